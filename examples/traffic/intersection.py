"""One signalized 4-way intersection in UXsim: the network, its random demand, and the loss of a run.

Four 500 m approach links and four 500 m exit links meet at I1, whose signal alternates an east-west
and a north-south green. For 30 simulated minutes every origin-destination pair gets a random demand
(uniform in [0, 0.25] vehicles/s, redrawn every 6 s, seeded), plus a directional surge: west to east
in the first third, east to west in the last third.
"""

import itertools
import warnings

import numpy as np
import uxsim

DURATION = 1800  # simulated seconds
INTERVAL = 6  # seconds between demand draws
BASE_DEMAND = 0.25  # vehicles per second, the top of each pair's random rate
DEMAND_SEED = 42
ENDS = ("W1", "E1", "N1", "S1")

# UXsim warns on every run that demand below one vehicle per interval is rounded away (deltan=1, as the
# paper's set-up has it): expected here, not news.
warnings.filterwarnings("ignore", message="The actual demand generated")


def demand(seed=DEMAND_SEED, base=BASE_DEMAND):
    """{(origin, destination, start second): vehicles per second}, the same for every run with ``seed``."""
    rng = np.random.default_rng(seed)
    rates = {}
    for origin, destination in itertools.permutations(ENDS, 2):
        for t in range(0, DURATION, INTERVAL):
            rates[(origin, destination, t)] = float(rng.uniform(0, base))
    for t in range(0, DURATION // 3, INTERVAL):
        rates[("W1", "E1", t)] += base
    for t in range(2 * DURATION // 3, DURATION, INTERVAL):
        rates[("E1", "W1", t)] += base
    return rates


def simulate(ew_green, ns_green, rates=None):
    """Run the intersection with these green times (seconds) and return the finished UXsim World."""
    world = uxsim.World(name="intersection", deltan=1, reaction_time=1, tmax=DURATION, print_mode=0, save_mode=0,
                        show_mode=0, random_seed=0, duo_update_time=120, show_progress=0,
                        vehicle_logging_timestep_interval=-1)
    ends = {"W1": (-1, 0), "E1": (1, 0), "N1": (0, 1), "S1": (0, -1)}
    nodes = {name: world.addNode(name, x, y) for name, (x, y) in ends.items()}
    center = world.addNode("I1", 0, 0, signal=[ew_green, ns_green])
    for name, node in nodes.items():
        group = 0 if name in ("W1", "E1") else 1
        world.addLink(name + "I1", node, center, length=500, free_flow_speed=10, jam_density=0.2, signal_group=group)
        world.addLink("I1" + name, center, node, length=500, free_flow_speed=10, jam_density=0.2, signal_group=group)
    for (origin, destination, t), rate in (rates or demand()).items():
        world.adddemand(nodes[origin], nodes[destination], t, t + INTERVAL, rate)
    world.exec_simulation()
    return world


def loss(world):
    """The paper's loss: delay per vehicle plus its spread across origin-destination pairs (seconds).

    A pair's delay is its completed trips' travel time over free flow, plus, for each trip not completed
    by the end, the pair's longest observed travel time (plus 1 s) over free flow. The spread is the
    standard deviation of the pairs' delay per vehicle, weighted by their trips.
    """
    analyzer = world.analyzer
    analyzer.od_analysis()
    per_pair, total_lost, total_trips = {}, 0.0, 0
    for pair, trips in analyzer.od_trips.items():
        if trips == 0:
            continue
        times = np.asarray(analyzer.od_tt[pair], dtype=float)
        free = analyzer.od_tt_free[pair]
        unfinished = trips - len(times)
        longest = times.max() if len(times) else float(DURATION)
        lost = float(np.sum(times - free)) + (longest + 1 - free) * unfinished
        per_pair[pair] = (lost / trips, trips)
        total_lost += lost
        total_trips += trips
    mean = total_lost / total_trips
    spread = np.sqrt(sum(trips * (d - mean) ** 2 for d, trips in per_pair.values()) / total_trips)
    by_direction = {f"{o.name}->{d.name}": round(float(v), 1) for (o, d), (v, _) in per_pair.items()}
    return {"loss": float(mean + spread), "delay_per_vehicle": float(mean), "spread": float(spread),
            "trips": int(total_trips), "delay_by_pair": by_direction}
