"""What the embedded model server puts in a chat completion beside the answer: two requests sharing a long
system message, each answer's JSON printed without its choices (``usage``, ``timings``). Run under the model
lock, it starts the server for a few seconds::

    flock /work/model.lock python -m benchmarks.server_answer
"""

from __future__ import annotations

import json
import urllib.request

from autotrace.llm.server import LocalServer


def main() -> None:
    system = "You are a helpful assistant. " + " ".join(f"fact {i}: the number {i} is {i * i} squared."
                                                        for i in range(60))
    with LocalServer(size="1.5b") as server:
        for question in ("What is 3 squared? Answer in one word.", "What is 4 squared? Answer in one word."):
            body = {"model": server.model_name, "max_tokens": 8, "temperature": 0,
                    "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}
            request = urllib.request.Request(f"{server.base_url}/chat/completions", json.dumps(body).encode(),
                                             {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=600) as answer:
                data = json.load(answer)
            print(json.dumps({k: v for k, v in data.items() if k != "choices"}, indent=1), flush=True)


if __name__ == "__main__":
    main()
