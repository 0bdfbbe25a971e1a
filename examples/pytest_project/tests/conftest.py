import pytest


@pytest.fixture
def small_order() -> dict:
    """One book in a padded envelope."""
    return {"weight_kg": 1.0, "subtotal": 20.0}
