"""Test-case judging shared by the code tasks: score = fraction passing, feedback = the failing cases."""


def judge_cases(output, reference, name, show=lambda args: repr(args)):
    failing = []
    for args, got in output:
        want = reference(args)
        if got != want or type(got) is str and type(want) is not str:
            failing.append(f"{name}({show(args)}) returned {got!r}, expected {want!r}")
    passed = len(output) - len(failing)
    score = passed / len(output) if output else 0.0
    if not failing:
        return 1.0, f"All {len(output)} test cases pass."
    return score, f"{passed}/{len(output)} test cases pass. Failing: " + "; ".join(failing) + "."
