"""A shopping cart: a scenario adds items, the output is what total() returns. Both marked methods
are wrong: add() overwrites an item's quantity, total() takes a flat 10 off instead of 10%."""


class Cart:
    def __init__(self):
        self.lines = {}

    def add(self, item, qty, price):  # autotrace: param
        """Add `qty` units of `item` at unit `price`; adding an item again adds to its quantity."""
        self.lines[item] = (qty, price)

    def total(self):  # autotrace: param
        """The sum of quantity * unit price over the cart, 10% off when that sum is 50 or more,
        rounded to cents."""
        subtotal = sum(qty * price for qty, price in self.lines.values())
        if subtotal >= 50:
            subtotal = subtotal - 10
        return round(subtotal, 2)


def main(scenario):
    """Run one scenario (a list of (item, qty, price) adds) and return the cart's total."""
    cart = Cart()
    for item, qty, price in scenario:
        cart.add(item, qty, price)
    return cart.total()
