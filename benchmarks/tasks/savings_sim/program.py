"""A savings account simulated day by day for 2,000 days: about 4,000 recorded calls per run."""

DAILY_RATE = 0.0  # autotrace: param interest rate added each day, e.g. 0.0001 for 0.01 %
DEPOSIT = 1.0  # autotrace: param amount deposited at the end of each day

DAYS = 2000


def accrue(balance, rate):
    """The balance after one day of interest."""
    return balance * (1 + rate)


def deposit(balance, amount):
    """The balance after the daily deposit."""
    return balance + amount


def final(balance):
    """The final balance, rounded to cents."""
    return round(balance, 2)


def main():
    balance = 0.0
    for _ in range(DAYS):
        balance = deposit(accrue(balance, DAILY_RATE), DEPOSIT)
    return final(balance)
