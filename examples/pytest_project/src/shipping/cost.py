"""What an order pays for shipping."""

from shipping.rates import BASE_FEE, FREE_SHIPPING_FROM, PER_KG


def billable_kg(weight_kg: float) -> int:  # autotrace: param
    """Kilograms the parcel service charges: every started kilogram counts in full."""
    return int(weight_kg)


def shipping_cost(weight_kg: float, subtotal: float) -> float:
    """Shipping for an order of ``subtotal`` EUR weighing ``weight_kg``."""
    if subtotal >= FREE_SHIPPING_FROM:
        return 0.0
    return round(BASE_FEE + PER_KG * billable_kg(weight_kg), 2)
