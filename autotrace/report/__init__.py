"""One self-contained HTML page per optimization run (and per pytest session): see :func:`write_run_report`.

The page is built from the run store alone (``.autotrace/autotrace.db``) plus the run's patch.diff,
so ``autotrace report RUN_ID`` draws any stored run again, and opens offline: inline CSS, SVG and a
few lines of script, nothing fetched.
"""

from __future__ import annotations

from pathlib import Path

from autotrace.atomic import atomic_write
from autotrace.store import RunStore, StoreError

REPORT_NAME = "report.html"


def write_run_report(store: RunStore, run_id: str, run_dir: Path, out: Path | None = None) -> Path:
    """Write the page of ``run_id`` to ``out`` (default ``run_dir/report.html``), atomically; its path."""
    from .page import run_html
    from .run import run_view

    run = store.get_run(run_id)
    if run is None:
        raise StoreError(f"no run {run_id!r} in {store.path} (see 'autotrace runs')")
    pool = [record.candidate for record in store.candidates(run_id)]
    html = run_html(run_view(run, store.steps(run_id), run_dir, pool))
    path = out if out is not None else run_dir / REPORT_NAME
    atomic_write(path, html.encode("utf-8"))
    return path
