"""The paper's examples as shipped (examples/numeric_graphs, battleship, traffic): their programs run under
plain Python, and their judges give the perfect score to a known solution and none to the empty start."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from example_runs import EXAMPLES, autotrace_run, copy_example, environment, python


def test_numeric_graphs_judge_scores_the_hidden_input_perfectly_and_the_start_not(tmp_path):
    folder = copy_example("numeric_graphs", tmp_path)
    code = ("import json, os, graphs, judge, program\n"
            "out = []\n"
            "for g in range(30):\n"
            "    os.environ['GRAPH'] = str(g)\n"
            "    start = judge.feedback(program.main())[0]\n"
            "    program.X = graphs.make_graph(g)[2]\n"
            "    out.append((start, judge.feedback(program.main())))\n"
            "print(json.dumps(out))")
    results = json.loads(python(folder, code))
    assert len(results) == 30
    assert all(score == 0.0 and message == "the output is right" for _, (score, message) in results)
    assert sum(start < 0 for start, _ in results) >= 25  # x = 0 is not the hidden input on (nearly) all graphs


def test_numeric_graphs_feedback_says_only_the_direction(tmp_path):
    folder = copy_example("numeric_graphs", tmp_path)
    code = ("import judge, graphs\n"
            "wanted = graphs.target(0)\n"
            "print(judge.feedback(wanted + 2)[1], '|', judge.feedback(wanted - 2)[1], '|', judge.feedback(wanted + 2)[0])")
    assert python(folder, code) == "the output should be smaller | the output should be larger | -2.0"


def test_battleship_empty_policy_scores_nothing_and_a_perfect_one_everything(tmp_path):
    folder = copy_example("battleship", tmp_path)
    empty = ("import judge, policy\n"
             "print([judge.feedback(policy.main(b), b)[0] for b in judge.examples()])")
    assert python(folder, empty) == "[0.0, 0.0, 0.0]"
    # a player that knows where the ships are hits every ship square
    code = ("import game, judge, policy\n"
            "def perfect(board):\n"
            "    ships = sorted(game.place_fleet(board))\n"
            "    return lambda m: next(s for s in ships if m[s[0]][s[1]] == '.')\n"
            "print([judge.feedback(game.play(perfect(b), b), b)[0] for b in judge.examples()])")
    assert python(folder, code) == "[1.0, 1.0, 1.0]"


def test_battleship_rules_a_hit_earns_another_shot_and_25_misses_end_the_game(tmp_path):
    folder = copy_example("battleship", tmp_path)
    code = ("import game\n"
            "ships = sorted(game.place_fleet(0))\n"
            "shots = iter([(0, 0)] * 3 + ships[:5] + [(9, 9)] * 100)\n"
            "result = game.play(lambda m: next(shots), 0)\n"
            "print(result['hits'], result['shots'])")
    hits, shots = (int(v) for v in python(folder, code).split())
    assert hits >= 4 and shots == hits + 25  # each hit was a free shot: the game ended at its 25th miss


def test_battleship_runs_under_autotrace(tmp_path):
    folder = copy_example("battleship", tmp_path)
    done = autotrace_run(folder, "policy.py")
    assert done.returncode == 0, done.stderr
    assert "shots were invalid" in done.stdout + done.stderr


@pytest.mark.skipif(importlib.util.find_spec("uxsim") is None, reason="needs pip install 'autotrace[traffic]'")
def test_traffic_simulates_the_intersection_and_judges_its_loss(tmp_path):
    folder = copy_example("traffic", tmp_path)
    code = ("import judge, signals\n"
            "result = signals.main()\n"
            "score, message = judge.feedback(result)\n"
            "print(result['trips'], round(result['loss'] - result['delay_per_vehicle'] - result['spread'], 6), score < 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, env=environment(), capture_output=True, text=True,
                          timeout=900)  # one 30-minute simulation: seconds of CPU, more on a loaded machine
    assert done.returncode == 0, done.stderr
    trips, rest, negative = done.stdout.split()
    assert int(trips) > 1000 and float(rest) == 0.0 and negative == "True"


def test_paper_examples_are_marked_as_the_paper_sets_them_up():
    assert "X = 0.0  # autotrace: param" in (EXAMPLES / "numeric_graphs" / "program.py").read_text()
    policy = (EXAMPLES / "battleship" / "policy.py").read_text()
    assert "def reason(map):  # autotrace: param" in policy and "def act(map, plan):  # autotrace: param" in policy
    signals = (EXAMPLES / "traffic" / "signals.py").read_text()
    assert "EW_GREEN = 15  # autotrace: param int in [15, 90]" in signals
    assert "NS_GREEN = 15  # autotrace: param int in [15, 90]" in signals
