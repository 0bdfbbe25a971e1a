"""``--executor ray``: a real optimization through a local Ray cluster (``ray.init()``) gives the run the
fork server gives. Slow: starting Ray takes 10-30 s; needs ``pip install 'autotrace[ray]'``."""

from __future__ import annotations

import subprocess

import pytest
from helpers import optimize, processes_with, shop, steps_of, wait_until
from llmserver import ScriptedLLMServer

pytestmark = pytest.mark.slow


def test_an_optimization_through_a_local_ray_cluster_matches_the_local_one(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    tag = "AUTOTRACE_TEST_RAY=1"
    monkeypatch.setenv(*tag.split("="))
    runs: dict[str, subprocess.CompletedProcess[str]] = {}
    for executor in ("fork", "ray"):
        (tmp_path / executor).mkdir()
        with ScriptedLLMServer() as server:  # the measured steps reach the target: no question is asked
            runs[executor] = optimize(shop(tmp_path / executor), server, "--steps", "5", "--target", "-0.5",
                                      "--executor", executor, installed=True, timeout=600)  # Ray's start: 20 s idle, 2-3 min at load 12
            assert server.chat_requests == []
        assert runs[executor].returncode == 0, runs[executor].stderr
    assert steps_of(runs["ray"]) == steps_of(runs["fork"])
    assert "measured step: shop.MARKUP = 2.727 (measured in 4 program runs)" in steps_of(runs["ray"])[1]
    assert runs["ray"].stdout == runs["fork"].stdout  # the same patch
    assert wait_until(lambda: processes_with(tag) == []), processes_with(tag)  # the local cluster stopped with the run
