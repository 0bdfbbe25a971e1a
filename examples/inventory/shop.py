"""A shop's stock policy, simulated day by day: when stock falls to REORDER_POINT, order ORDER_SIZE
units, which arrive LEAD_DAYS later. Daily demand is random, so each run of the simulation differs."""

import random

REORDER_POINT = 5  # autotrace: param int in [0, 200] stock level that triggers an order
ORDER_SIZE = 10  # autotrace: param int in [1, 400] units ordered each time

LEAD_DAYS = 3
HOLDING_COST = 0.2  # per unit in stock per day
ORDER_COST = 30.0  # per order placed
LOST_SALE_COST = 4.0  # per unit of demand not met


def simulate(mean_demand, days=120):
    """The cost per day of running the policy for `days` days under Poisson-like daily demand."""
    stock, pipeline, cost = ORDER_SIZE, [], 0.0
    for day in range(days):
        stock += sum(size for arrives, size in pipeline if arrives == day)
        pipeline = [(arrives, size) for arrives, size in pipeline if arrives > day]
        demand = sum(1 for _ in range(4 * mean_demand) if random.random() < 0.25)
        sold = min(stock, demand)
        stock -= sold
        cost += LOST_SALE_COST * (demand - sold) + HOLDING_COST * stock
        if stock + sum(size for _, size in pipeline) <= REORDER_POINT:
            pipeline.append((day + LEAD_DAYS, ORDER_SIZE))
            cost += ORDER_COST
    return cost / days


def main(mean_demand):
    return simulate(mean_demand)
