"""Measure the embedded local model on this machine: install, startup, prompt/generation speed, memory.

    python benchmarks/local_model.py                    # installed models, 1.5b and 0.5b
    python benchmarks/local_model.py --fresh-install    # also time a first install into a temp cache

Prompt and generation speeds come from the server's own ``timings`` (llama.cpp), for a prompt of
about ``--prompt-tokens`` tokens that starts with a fresh nonce each run, so no run reuses another's
KV cache; one extra run repeats the last prompt to show what prompt caching saves.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

from autotrace.llm.provision import install_model
from autotrace.llm.server import LocalServer


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.load(response)


def _timed_install(size: str, cache_dir: str | None) -> tuple[Path, float]:
    started = time.perf_counter()
    path = install_model(size, cache_dir)
    return path, time.perf_counter() - started


def _prompt_text(root: str, tokens: int) -> str:
    """Python source trimmed to ``tokens`` tokens of this model's tokenizer."""
    source = inspect.getsource(textwrap) * 3  # real Python code as filler
    ids = _post(f"{root}/tokenize", {"content": source})["tokens"][:tokens]
    return _post(f"{root}/detokenize", {"tokens": ids})["content"]


def _chat(base_url: str, prompt: str, gen_tokens: int) -> dict[str, float]:
    reply = _post(
        f"{base_url}/chat/completions",
        {
            "messages": [{"role": "user", "content": prompt + "\n\nSuggest one improvement to this code."}],
            "max_tokens": gen_tokens,
            "ignore_eos": True,
            "temperature": 0,
        },
    )
    return reply["timings"]


def _rss_mib(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of a process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def bench(size: str, args: argparse.Namespace) -> None:
    print(f"== {size}")
    if args.fresh_install:
        with tempfile.TemporaryDirectory(prefix="autotrace-bench-") as cache:
            _, first = _timed_install(size, cache)
            _, again = _timed_install(size, cache)
        print(f"install, first run (empty cache): {first:.1f} s; second run: {again * 1000:.1f} ms")
    gguf, seconds = _timed_install(size, None)
    print(f"install (user cache): {seconds * 1000:.1f} ms; joined size {gguf.stat().st_size:,} bytes")

    started = time.perf_counter()
    with LocalServer(gguf, threads=args.threads) as server:
        print(f"server start to healthy: {time.perf_counter() - started:.2f} s ({server.threads} threads)")
        assert server.pid is not None
        root = server.base_url.removesuffix("/v1")
        filler = _prompt_text(root, args.prompt_tokens)
        prompts = [f"# run {i} {time.time_ns()}\n{filler}" for i in range(args.runs)]
        runs = [_chat(server.base_url, prompt, args.gen_tokens) for prompt in prompts]
        cached = _chat(server.base_url, prompts[-1], args.gen_tokens)
        rss, peak = _rss_mib(server.pid)

    prompt_n = runs[0]["prompt_n"]
    prompt_tps = statistics.median(r["prompt_per_second"] for r in runs)
    gen_tps = statistics.median(r["predicted_per_second"] for r in runs)
    first_token = statistics.median(r["prompt_ms"] for r in runs) / 1000
    print(f"prompt: {prompt_n} tokens at {prompt_tps:.1f} tok/s (median of {args.runs}; {first_token:.1f} s)")
    print(f"generation: {runs[0]['predicted_n']} tokens at {gen_tps:.1f} tok/s")
    print(
        f"same prompt again: {cached['cache_n']} tokens from cache, "
        f"{cached['prompt_n']} evaluated in {cached['prompt_ms'] / 1000:.2f} s"
    )
    print(f"server RSS: {rss:.0f} MiB (peak {peak:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1.5b", "0.5b"])
    parser.add_argument("--fresh-install", action="store_true", help="time a first install into a temp cache")
    parser.add_argument("--prompt-tokens", type=int, default=1500)
    parser.add_argument("--gen-tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    for size in args.sizes:
        bench(size, args)


if __name__ == "__main__":
    main()
