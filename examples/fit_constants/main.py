"""Quote the price of a print order: two constants live in pricing.py, one here."""

from pricing import SETUP_FEE, order_cost

MARKUP = 1.2  # autotrace: param price multiplier over the cost, between 1 and 5


def quote(pages):
    """Price of an order of `pages` pages: its cost times the markup, rounded to cents."""
    return round(order_cost(pages) * MARKUP, 2)


def main():
    return quote(200)


if __name__ == "__main__":
    print(f"200 pages cost {main()} euros (setup fee {SETUP_FEE})")
