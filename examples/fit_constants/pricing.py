"""Costs of a small print shop."""

PRICE_PER_PAGE = 0.05  # autotrace: param cost of one printed page, in euros
SETUP_FEE = 1.0  # autotrace: param fixed cost of every order, in euros


def printing_cost(pages):
    """Cost of printing `pages` pages."""
    return pages * PRICE_PER_PAGE


def order_cost(pages):
    """Cost of an order of `pages` pages: the setup fee plus the printing."""
    return SETUP_FEE + printing_cost(pages)
