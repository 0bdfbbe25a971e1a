"""The parcel service's tariff and the shop's free-shipping promise."""

BASE_FEE = 4.90  # per parcel, EUR
PER_KG = 1.20  # per billable kilogram, EUR
FREE_SHIPPING_FROM = 500.0  # autotrace: param order subtotal (EUR) from which shipping is free
