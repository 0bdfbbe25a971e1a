"""Four products with different demand; the score is minus the mean cost per day (higher is better)."""


def examples():
    return [4, 8, 12, 20]  # mean units demanded per day


def feedback(cost, mean_demand):
    return -round(cost, 3), f"demand {mean_demand}/day: the policy cost {cost:.2f} per day"
