"""The application's own LLM call, shared by both forms of the prompt tasks (it is not a parameter).

It posts one chat request to the OpenAI-compatible server named by ``BENCH_APP_BASE_URL`` (the same
local server the optimizers use), greedy (temperature 0) with the run's seed, and returns the text.
"""

import json
import os
import urllib.request


def chat(system, user, max_tokens=12):
    base_url = os.environ.get("BENCH_APP_BASE_URL", "http://127.0.0.1:8080/v1")
    body = {
        "model": os.environ.get("BENCH_APP_MODEL", "local"),
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "temperature": 0,
        "seed": int(os.environ.get("BENCH_SEED", "0")),
        "max_tokens": max_tokens,
    }
    request = urllib.request.Request(f"{base_url}/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json", "Authorization": "Bearer local"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)["choices"][0]["message"]["content"] or ""
