"""Four shares split a monthly income; each category must receive its wanted amount."""

HOUSING = 0.25  # autotrace: param share of the income spent on housing, between 0 and 1
FOOD = 0.25  # autotrace: param share of the income spent on food, between 0 and 1
SAVINGS = 0.25  # autotrace: param share of the income saved, between 0 and 1
LEISURE = 0.25  # autotrace: param share of the income spent on leisure, between 0 and 1

INCOME = 4000.0


def allocate(income, share):
    """The amount a share of the income gives, rounded to cents."""
    return round(income * share, 2)


def plan(housing, food, savings, leisure):
    """The monthly plan: the amount for each category."""
    return {"housing": housing, "food": food, "savings": savings, "leisure": leisure}


def main():
    return plan(allocate(INCOME, HOUSING), allocate(INCOME, FOOD), allocate(INCOME, SAVINGS),
                allocate(INCOME, LEISURE))
