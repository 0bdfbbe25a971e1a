"""Score: minus the loss (delay per vehicle plus its spread across origin-destination pairs, in seconds)."""


def feedback(result):
    worst = sorted(result["delay_by_pair"].items(), key=lambda kv: -kv[1])[:3]
    message = (f"loss {result['loss']:.1f} s = delay per vehicle {result['delay_per_vehicle']:.1f} s + spread "
               f"across origin-destination pairs {result['spread']:.1f} s over {result['trips']} trips; "
               f"the most delayed pairs: " + ", ".join(f"{pair} {d} s" for pair, d in worst))
    return -round(result["loss"], 3), message
