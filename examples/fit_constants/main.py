"""Quote the price of a print order: two constants live in pricing.py, one here."""

from pricing import SETUP_FEE, order_cost

VAT_RATE = 0.1  # autotrace: param value-added tax rate, between 0 and 1


def quote(pages):
    """Price of an order of `pages` pages with tax, rounded to cents."""
    net = order_cost(pages)
    return round(net * (1 + VAT_RATE), 2)


def main():
    return quote(200)


if __name__ == "__main__":
    print(f"200 pages cost {main()} euros (setup fee {SETUP_FEE})")
