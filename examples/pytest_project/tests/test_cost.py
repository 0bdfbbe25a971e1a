from shipping.cost import billable_kg, shipping_cost


def test_whole_kilograms_are_charged_as_they_are():
    assert billable_kg(2.0) == 2


def test_a_started_kilogram_counts_in_full():
    assert billable_kg(2.3) == 3
    assert billable_kg(0.2) == 1


def test_small_order_pays_base_fee_and_weight(small_order):
    assert shipping_cost(**small_order) == 6.10


def test_orders_from_50_eur_ship_free():
    assert shipping_cost(3.0, subtotal=50.0) == 0.0


def test_orders_just_below_50_eur_pay():
    assert shipping_cost(3.0, subtotal=49.99) == 8.50
