"""Make the example report shown in the README (docs/report.png): examples/fix_bug optimized for three
steps against the scripted LLM server of the tests (its answers are written below, so the page is the
same on every machine), then the page opened in headless Chromium and photographed.

    .venv/bin/python docs/report_example.py [OUT.png]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from browser import Chromium  # noqa: E402
from llmserver import ScriptedLLMServer  # noqa: E402

WRONG = '''def median(values):  # autotrace: param the median of a non-empty list of numbers
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return ordered[middle - 1]
    return ordered[middle]
'''
RIGHT = '''def median(values):  # autotrace: param the median of a non-empty list of numbers
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return (ordered[middle - 1] + ordered[middle]) / 2
    return ordered[middle]
'''
ANSWERS = [
    {"reasoning": "The odd-length cases pass and every even-length case fails: for [4, 1, 3, 2] the function "
                  "returns 3, the upper of the two middle values. Return the lower middle value instead.",
     "suggestion": {"stats.median": WRONG}},
    {"reasoning": "Taking the lower middle value fixed nothing: [4, 1, 3, 2] now gives 2 but 2.5 is expected. "
                  "For an even length the median is the mean of the two middle values.",
     "suggestion": {"stats.median": RIGHT}},
]


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="autotrace-example-") as tmp:
        project = Path(tmp) / "fix_bug"
        shutil.copytree(REPO / "examples" / "fix_bug", project,
                        ignore=shutil.ignore_patterns(".autotrace", "__pycache__"))
        subprocess.run(["git", "init", "-q"], cwd=project, check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}
        env["OPENAI_API_KEY"] = "example"
        with ScriptedLLMServer() as server:
            server.script(*ANSWERS)
            done = subprocess.run([str(Path(sys.executable).with_name("autotrace")), "optimize", "stats.py",
                                   "--feedback", "judge.py", "--steps", "3", "--target", "1",
                                   "--base-url", server.base_url, "--model", "scripted"],
                                  cwd=project, env=env, capture_output=True, text=True, timeout=300)
        print(done.stderr, end="")
        if done.returncode != 0:
            raise SystemExit(done.returncode)
        (page,) = (project / ".autotrace" / "runs").glob("*/report.html")
        with Chromium() as browser:
            browser.open(page)
            if browser.errors:
                raise SystemExit(f"console errors: {browser.errors}")
            browser.screenshot(out, width=1100)
    print(f"screenshot: {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "report.png")
