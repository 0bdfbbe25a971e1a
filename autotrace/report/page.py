"""The HTML page: Jinja2 templates (``templates/``) filled with the data of :mod:`.run` or :mod:`.session`.

Jinja2 (a well-kept, small library) escapes every value by default, which is what a page built from
untrusted text needs: candidate code, the model's reasoning, program output and test names all come
from the program or the model. As a second wall, the page's Content-Security-Policy allows no network
at all and runs only its own script (by hash), so even an escaping mistake could not load or run
anything. The CSS and the script are inlined from ``templates/`` files: one file that opens offline.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

import jinja2

from . import plots
from .run import RunView
from .session import SessionView


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("autotrace.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["num"] = _num
    env.globals["heat_colour"] = plots.heat_colour
    return env


def _render(name: str, **data: Any) -> str:
    env = _environment()
    script = env.loader.get_source(env, "report.js")[0]  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'; "
           "base-uri 'none'; form-action 'none'")
    return env.get_template(name).render(csp=csp, script=script, **data)


def run_html(view: RunView) -> str:
    """The page of one optimization run."""
    return _render("run.html.j2", run=view, plot=plots.score_plot(view.steps), lineage=plots.lineage(view.steps))


def session_html(view: SessionView) -> str:
    """The page of one pytest session (``pytest --autotrace-report=report.html``)."""
    return _render("session.html.j2", session=view)


def _when(stamp: Any) -> str:
    if not isinstance(stamp, (int, float)):
        return ""
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "–" if value is None else str(value)
