"""Prices of a small print shop."""

PRICE_PER_PAGE = 0.05  # autotrace: param price of one printed page, in euros
SETUP_FEE = 1.0  # autotrace: param fixed fee for every order, in euros


def printing_cost(pages):
    """Cost of printing `pages` pages, before the setup fee and tax."""
    return pages * PRICE_PER_PAGE


def order_cost(pages):
    """Cost of an order of `pages` pages before tax: the setup fee plus the printing."""
    return SETUP_FEE + printing_cost(pages)
