"""The trace-opt scripts' shared pieces: their arguments and the LLM (the one benchmarks/trace_side uses)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks" / "trace_side"))

from run_task import litellm_model  # noqa: E402  (LiteLLM's openai/<model> at --base-url, usage recorded)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--memory-size", type=int, default=5, help="OptoPrime's memory of past feedback")
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--llm-timeout", type=float, default=1800.0)
    return parser


def llm(args: argparse.Namespace, usage: list):
    """trace-opt's AbstractModel over LiteLLM, greedy with ``args.seed``; each reply's tokens go to ``usage``."""
    return litellm_model(args, usage)


def tokens(usage: list) -> int:
    return sum(u["prompt_tokens"] + u["completion_tokens"] for u in usage)
