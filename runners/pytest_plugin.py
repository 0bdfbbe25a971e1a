"""pytest plugin: run a test suite against autotrace-instrumented code and report each test as a DAG.

pytest loads it in every session of an environment where autotrace is installed (the ``pytest11``
entry point), so it is inert until an ``--autotrace*`` option is given: this module imports only
pytest, and the machinery (:mod:`.pytest_session`) is imported when asked for. Importing autotrace's
dependencies early would also put them in ``sys.modules`` before the import hook exists, out of
reach of ``--autotrace-all``.

The hook is installed in ``pytest_load_initial_conftests`` (tryfirst), before any conftest or test
module is imported; ``pytest_configure`` is the fallback for a plugin loaded later than that.

Give file options as ``--autotrace-report=FILE``: pytest chooses its rootdir, and so the ini file it
reads, from the command line's path-like tokens before it knows a plugin's options, so the value of
``--autotrace-report FILE`` in another folder would move the rootdir.
"""

from __future__ import annotations

from argparse import Namespace

import pytest

#: The name the active session registers under (one per pytest process, xdist workers included).
SESSION_PLUGIN = "autotrace-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autotrace", "autotrace: run the suite against instrumented code")
    group.addoption("--autotrace", action="store_true", default=False,
                    help="Run the suite against the project's code instrumented (the packages holding "
                         "parameters: markers, [tool.autotrace] params). Implied by the other --autotrace-* "
                         "options.")
    group.addoption("--autotrace-param", action="append", default=[], metavar="FILE::NAME",
                    help="Also a parameter, as with 'autotrace optimize --param' (repeatable).")
    group.addoption("--autotrace-values", default=None, metavar="FILE.json",
                    help="Run with these parameter values: a JSON object of parameter name -> value text "
                         "(a literal's repr, a function's whole source).")
    group.addoption("--autotrace-report", default=None, metavar="FILE",
                    help="Record each test and write its outcome, assertion message, traceback, captured "
                         "output, the functions it called and the parameters they read to FILE, with the source "
                         "and DAG of each failing test (see --autotrace-graphs, --autotrace-keep): an HTML page "
                         "that opens offline when FILE ends in .html, else JSON. Recording keeps each call's "
                         "arguments and results alive until the test ends (a test asserting that an object was "
                         "garbage-collected can fail), so nothing is recorded without a report.")
    group.addoption("--autotrace-graphs", choices=("all", "failed"), default="failed",
                    help="Whose DAG the report holds: only the failing tests' (default; a passing test's entry "
                         "says what it called) or every test's (slower: a DAG per test).")
    group.addoption("--autotrace-no-rerun", action="store_true", default=False,
                    help="Record every test in full as it runs, so that a failing test's DAG is that of the run "
                         "that failed. By default a test whose DAG is not asked for only has its calls counted, "
                         "and a failing one is run once more, recorded and unreported, for its DAG (much cheaper "
                         "when most tests pass; a test that does not fail the same way again gets no DAG).")
    group.addoption("--autotrace-keep", default=None, metavar="EXPR",
                    help="Also keep the source and DAG of the tests this -k style expression matches, passing "
                         "or not.")
    group.addoption("--autotrace-holdout", default=None, metavar="EXPR",
                    help="Mark the tests this -k style expression matches as held out in the report "
                         "(what 'autotrace optimize --holdout-tests' keeps from the optimizer).")
    group.addoption("--autotrace-all", default=None, metavar="DIR",
                    help="Also instrument every module under DIR (test files and conftest.py excepted) "
                         "as recorded calls.")
    group.addoption("--autotrace-user-repr", action="store_true", default=False,
                    help="Show each recorded value in the report by its own __repr__ (and an exception by its "
                         "__str__), which runs the program's code while the test runs and can change what it "
                         "does; by default a value is shown by its type, identity and fields, read without "
                         "calling any of its methods. Also [tool.autotrace] user_repr = true.")


def requested(options: Namespace) -> bool:
    """Whether any ``--autotrace*`` option was given."""
    return bool(options.autotrace or options.autotrace_param or options.autotrace_values
                or options.autotrace_report or options.autotrace_all or options.autotrace_holdout
                or options.autotrace_keep
                or options.autotrace_user_repr)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    _activate(early_config, early_config.known_args_namespace, late=False)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _activate(config, config.option, late=True)


def _activate(config: pytest.Config, options: Namespace, *, late: bool) -> None:
    if not requested(options) or config.pluginmanager.has_plugin(SESSION_PLUGIN):
        return
    from .pytest_session import AutotraceSession

    session = AutotraceSession(config, options, late=late)
    config.pluginmanager.register(session, SESSION_PLUGIN)
    config.add_cleanup(session.close)
