"""Prices of a small print shop."""

PRICE_PER_PAGE = 0.05  # autotrace: param price of one printed page, in euros
SETUP_FEE = 1.0  # autotrace: param fixed fee for every order, in euros


def printing_cost(pages):
    return pages * PRICE_PER_PAGE


def order_cost(pages):
    return SETUP_FEE + printing_cost(pages)
