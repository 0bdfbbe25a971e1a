"""Green times of the intersection's signal; ``main`` runs 30 simulated minutes and returns the loss."""

from intersection import loss, simulate

EW_GREEN = 15  # autotrace: param int in [15, 90] seconds of green for east-west traffic in each cycle
NS_GREEN = 15  # autotrace: param int in [15, 90] seconds of green for north-south traffic in each cycle


def main():
    return loss(simulate(EW_GREEN, NS_GREEN))


if __name__ == "__main__":
    print(main())
