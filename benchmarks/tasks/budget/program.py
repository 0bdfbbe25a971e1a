"""Four shares split a monthly income; each category must receive its wanted amount."""

HOUSING = 0.25  # autotrace: param in [0, 1] share of the income spent on housing
FOOD = 0.25  # autotrace: param in [0, 1] share of the income spent on food
SAVINGS = 0.25  # autotrace: param in [0, 1] share of the income saved
LEISURE = 0.25  # autotrace: param in [0, 1] share of the income spent on leisure

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
