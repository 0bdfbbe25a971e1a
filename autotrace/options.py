"""The options of ``autotrace optimize``, each written once: :class:`OptimizeOptions` is the table.

Each field is one option: its Python name (the command's parameter), its type, its default, and in its
metadata (:func:`option`) what values it takes (a :class:`Kind`), its help text and how the command line
and the project's ``[tool.autotrace]`` table name it. From this one table come the click options of the
command line (:mod:`autotrace.runners.options`), the defaults (:data:`autotrace.config.DEFAULTS`), the
check of the table's values (:func:`autotrace.config.load_config`) and the run's settings
(:meth:`OptimizeOptions.settings`). The module imports nothing heavy and no click: the core reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: The optimizers by the names the command line and the table accept (:data:`autotrace.optimizers.OPTIMIZERS`).
OPTIMIZER_NAMES = ("optoprime", "opro")
#: How evaluations run (:class:`autotrace.runners.executor.Executor`).
EXECUTORS = ("fork", "spawn", "ray")
#: How a (code) parameter's new value is asked for: in a fenced block outside any JSON, or as a JSON string.
CODE_FORMATS = ("fenced", "json")
#: How the program's own model calls reach their endpoint: through autotrace's recording proxy, or not.
APP_CALLS = ("proxied", "direct")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class Kind:
    """The values an option takes: ``base`` (``int``, ``float``, ``bool``, ``str``, ``choice``, ``size``,
    ``path``) with its bounds or choices, for the command line's type; ``describe`` and ``check`` for a
    value of the ``[tool.autotrace]`` table, so a wrong type is a one-line error naming the key rather than
    a traceback, or a string "false" silently counting as true."""

    base: str
    describe: str
    check: Callable[[Any], bool] = field(compare=False)
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()


def whole(least: int) -> Kind:
    return Kind("int", f"a whole number of at least {least}",
                lambda v: _number(v) and isinstance(v, int) and v >= least, low=least)


def one_of(choices: tuple[str, ...]) -> Kind:
    return Kind("choice", " or ".join(f'"{c}"' for c in choices), lambda v: v in choices, choices=choices)


NUMBER = Kind("float", "a number", _number)
SECONDS = Kind("float", "a number of seconds above 0", lambda v: _number(v) and v > 0, low=0, low_open=True)
FRACTION = Kind("float", "a fraction from 0 up to (not including) 1", lambda v: _number(v) and 0 <= v < 1,
                low=0, high=1, high_open=True)
SWITCH = Kind("bool", "true or false", lambda v: isinstance(v, bool))
TEXT = Kind("str", "a string", lambda v: isinstance(v, str))
EXPRESSION = Kind("str", "a pytest -k expression (a string)", lambda v: isinstance(v, str))
SIZE = Kind("size", 'a size such as "4GiB", or "none"', lambda v: isinstance(v, str) or (_number(v) and v > 0))
#: A file or folder; in the table, relative to the pyproject.toml that names it.
FILE = Kind("path", "a file name", lambda v: isinstance(v, str))


@dataclass(frozen=True)
class Option:
    """One option's row of the table besides its name, type and default (the dataclass field's)."""

    kind: Kind
    help: str
    #: The command line's declarations when not ``--the-name`` (``--apply``, ``-k``, ``--probe/--no-probe``).
    flags: tuple[str, ...] = ()
    #: The ``[tool.autotrace]`` key: the long flag's name with underscores unless given; None: not settable there.
    config: str | None = ""
    #: The field of the run's settings (``Settings``) that takes the value as it is; None: the command
    #: line derives what it sets from it (``--timeout`` goes into the limits, ``--no-cache`` turns ``cache`` off).
    setting: str | None = None
    metavar: str | None = None
    #: What ``--help`` shows as the default when the default value itself would not say it.
    show_default: str | None = None
    multiple: bool = False
    #: The value of ``--tests`` given without one (the option then takes an optional value).
    flag_value: str | None = None
    #: The table's value is checked by the command line (which names it its own way), not on loading.
    checked_on_load: bool = True


def option(default: Any, kind: Kind, help: str, *, setting: bool | str = False, **row: Any) -> Any:
    """A field of :class:`OptimizeOptions`: ``default`` and the rest of its row (:class:`Option`);
    ``setting=True``: the run's settings take it under the option's own name."""
    return field(default=default, metadata={"option": (kind, help, setting, row)})


@dataclass(frozen=True)
class Row:
    """One option as the command line and the table see it: name, default and :class:`Option`."""

    name: str
    default: Any
    option: Option

    @property
    def flags(self) -> tuple[str, ...]:
        return self.option.flags or (f"--{self.name.replace('_', '-')}",)

    @property
    def config(self) -> str | None:
        """The ``[tool.autotrace]`` key."""
        if self.option.config != "":
            return self.option.config
        long = next(f for f in self.flags if f.startswith("--"))
        return long.split("/")[0][2:].replace("-", "_")


@dataclass(frozen=True)
class OptimizeOptions:
    """What ``autotrace optimize`` was given, one field per option (the table; see the module)."""

    judge: Path | None = option(
        None, FILE, "judge.py with feedback(output[, example]) and optionally examples().",
        flags=("--feedback",), setting=True)
    tests: Path | None = option(
        None, FILE, "Instead of TARGET and a judge: optimize until the tests in PATH pass (default: the current "
        "folder).", flag_value=".", metavar="[PATH]")
    keyword: str | None = option(
        None, EXPRESSION, "With --tests: only the tests matching this pytest -k expression.", flags=("-k",),
        metavar="EXPR", config="keyword")
    entry: str = option("main", TEXT, "Function of TARGET to call.", setting=True)
    selectors: tuple[str, ...] = option(
        (), TEXT, "Select a parameter without a marker comment (repeatable): rates.py::BASE_FEE, app.py::Cart.total.",
        flags=("--param",), multiple=True, metavar="FILE::NAME", config=None, setting=True)
    steps: int = option(10, whole(0), "Optimization steps at most (each one LLM proposal, or a measured step).",
                        setting=True)
    target_score: float | None = option(
        None, NUMBER, "Stop as soon as the mean score reaches this value (with --tests: 1, all passing).",
        flags=("--target",))
    model: str | None = option(None, TEXT, "Model name, or 'local' for the embedded model. [env: AUTOTRACE_MODEL]")
    base_url: str | None = option(
        None, TEXT, "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama). [env: OPENAI_BASE_URL]")
    app_base_url: str | None = option(
        None, TEXT, "The endpoint the program's own model calls (OpenAI() clients) go to, through autotrace's "
        "caching proxy. Default: the run's model, when OPENAI_BASE_URL and OPENAI_API_KEY are unset (else the "
        "endpoint they name, with the user's key). [key: AUTOTRACE_APP_API_KEY]", metavar="URL")
    app_model: str | None = option(
        None, TEXT, "The model name the program's requests are given, whatever they ask for. Default: the run's "
        "model's (on --app-base-url or the user's endpoint: the program's own).", metavar="NAME")
    app_calls: str = option(
        APP_CALLS[0], one_of(APP_CALLS),
        "proxied: the program's model calls go through autotrace's recording proxy (nodes of the graph, cached, "
        "counted), to the endpoint they would reach anyway. direct: the environment is left exactly as it is, "
        "and the calls are not recorded.")
    optimizer: str = option(
        OPTIMIZER_NAMES[0], one_of(OPTIMIZER_NAMES),
        "OptoPrime reads the execution graph; OPRO only the history of values and scores.", setting=True)
    apply_patch: bool = option(
        False, SWITCH, "Write the best values into the source files (atomically). Without it, only a patch is "
        "written.", flags=("--apply",), setting="apply")
    resume: str | None = option(
        None, TEXT, "Continue an interrupted run from its last completed step, scored as it was started (--tests, "
        "-k, --holdout, --holdout-tests are the stored ones; giving one another value is an error).",
        metavar="RUN_ID", config=None, setting=True)
    no_cache: bool = option(
        False, SWITCH, "Do not answer repeated LLM requests (the optimizer's and the program's own) from the "
        "response cache.")
    timeout: float = option(60.0, SECONDS, "Seconds one evaluation may run before it is killed.")
    memory: int | None = option("4GiB", SIZE, "Address-space limit of one evaluation, e.g. 2GiB or none.")
    in_process: bool = option(
        False, SWITCH, "Evaluate in this process (faster, no isolation from candidate code).")
    no_network: bool = option(
        False, SWITCH, "Candidates may not open TCP connections or listen (Linux Landlock ABI 4+, kernel 6.7+).")
    budget_tokens: int | None = option(
        None, whole(500), "Prompt size limit; default fits the model's context.", setting=True)
    gguf: Path | None = option(None, FILE, "Serve this GGUF file as the local model. [env: AUTOTRACE_GGUF]")
    probe: bool = option(
        True, SWITCH, "Before each step, nudge every numeric parameter by 10% alone and show the LLM how the score "
        "moved (one extra evaluation per numeric parameter and step), within the bounds the markers give.",
        flags=("--probe/--no-probe",), setting=True)
    measured_step: bool = option(
        True, SWITCH, "After the probes, search the numbers, booleans and choices by running the program (choices, "
        "line estimates, bracketing, then scipy's Nelder-Mead), within the markers' bounds, and keep what beats "
        "the best so far without asking the LLM.", flags=("--measured-step/--no-measured-step",), setting=True)
    measured_runs: int = option(
        30, whole(0), "Program runs one measured search may make, besides the probes.", metavar="N", setting=True)
    max_unchanged: int = option(
        2, whole(0), "Stop when N steps in a row give nothing new to evaluate (no change, only rejected values, or "
        "values run before; answers asked again by --resample included) while the best score stands still; "
        "a step that asks about a function or text, or puts that question a way, not tried before does not "
        "count; 0 never stops.", metavar="N", setting=True)
    jobs: int | None = option(
        None, whole(1), "Evaluations at once (probes, search points, a step's candidates, --tests runs); the run "
        "is the same whatever N.", metavar="N", show_default="the number of cores", setting=True,
        checked_on_load=False)
    split_examples: bool = option(
        True, SWITCH, "When fewer evaluations than --jobs run at once (the initial values, a step with one "
        "candidate), run one evaluation's examples in several workers, merged back in their order: a program "
        "that waits on its model for each example gets N answers at a time (not once its examples have shown "
        "they run too fast for it to pay). --no-split-examples runs each evaluation's examples in one process, "
        "for a program that carries state from one example to the next.",
        flags=("--split-examples/--no-split-examples",), setting=True)
    executor: str = option(
        EXECUTORS[0], one_of(EXECUTORS), "fork: from a warm process (Linux; spawns where unsafe); spawn: a fresh "
        "Python each; ray: Ray tasks (pip install 'autotrace[ray]').", setting=True, checked_on_load=False)
    ray_address: str | None = option(
        None, TEXT, "With --executor ray: the cluster to join (default: RAY_ADDRESS, else a local one).",
        metavar="ADDR", setting=True)
    candidates: int = option(
        1, whole(1), "Answers asked for per step, concurrently: the first at the configured temperature, the "
        "others sampled (temperature 0.8, seeds from the run's seed, the step and the index, so the response "
        "cache replays a run); the new ones are evaluated as one batch.", metavar="N", setting=True)
    resample: int = option(
        2, whole(0), "When a step's answers give nothing new to run (no change, only rejected values, or values "
        "run before), ask again up to N times, one sampled answer at a time (temperature 0.8, a seed from the "
        "run's seed and the step), each told what was wrong with the last; every other one asks about one "
        "function or text the run used alone (its value, its calls and the feedback); 0: the step ends there.",
        metavar="N", setting=True)
    seed: int = option(
        0, whole(0), "The run's seed: the held-out examples, each draw's seed (random programs) and every sampled "
        "answer's seed derive from it, so the same seed replays a run from the caches; another seed is another "
        "sample of the same search.", metavar="N")
    holdout: float = option(
        0.0, FRACTION, "Hold this fraction of the judge's examples out, drawn with the run's seed: candidates are "
        "chosen on the others, the patch is the best on these; progress shows both scores ('val'). A judge "
        "whose examples() returns {'train': [...], 'val': [...]} splits them itself.", metavar="FRACTION")
    holdout_tests: str | None = option(
        None, EXPRESSION, "With --tests: hold the tests this pytest -k style expression matches out: the "
        "optimizer never sees them, candidates are chosen on the others, the patch is the best on these; "
        "progress shows both scores ('val').", metavar="EXPR")
    merge: bool = option(
        True, SWITCH, "Merge two candidates that are right on different examples: their changed parameters "
        "combined with no LLM call, or two versions of one function or text merged by the model.",
        flags=("--merge/--no-merge",), setting=True)
    induce: bool | None = option(
        None, SWITCH, "Also propose text parameters by instruction induction: the model is shown the examples' "
        "inputs with the outputs the judge wanted and asked what the instruction was, several times; each answer, "
        "and each with a sentence stating the output form, is run. Default: for the texts the program sends to its "
        "model (prompts); --induce: for every text parameter; --no-induce: never.",
        flags=("--induce/--no-induce",), setting=True, show_default="prompts")
    repeats: int | None = option(
        None, whole(1), "Run each example K times with other seeds for random (and numpy's): the score is the mean "
        "with its standard error, and a candidate replaces the best only when a paired t-test over the examples' "
        "draws says it is better (one-sided, p < 0.01); a noisy run's best must beat the original again on K "
        "fresh draws to become the patch. 1: the program is deterministic, no check.", metavar="K",
        show_default="1, or 5 when the original values run twice disagree", setting=True)
    failure_score: float | None = option(
        None, NUMBER, "What an example that raised or timed out scores in the mean (a judge may set "
        "failure_score = SCORE itself).", metavar="SCORE",
        show_default="the lowest score the judge gave so far, or 0 for scores in [0, 1]", setting=True)
    code_format: str = option(
        CODE_FORMATS[0], one_of(CODE_FORMATS),
        "How a function's new version is asked for: in a fenced ```python block, or as a JSON string.", setting=True)
    max_run_tokens: int | None = option(
        None, whole(1), "Stop between steps once the run has spent N tokens, the optimizer's and the program's model "
        "calls together (a resumed run's earlier ones included); the patch is the best so far, the exit status 1.",
        metavar="N", setting=True)
    max_optimizer_tokens: int | None = option(
        None, whole(1), "The same for the optimizer's tokens alone.", metavar="N", setting=True)
    max_program_tokens: int | None = option(
        None, whole(1), "The same for the program's own model calls alone (those through autotrace's proxy).",
        metavar="N", setting=True)

    @classmethod
    def rows(cls) -> Iterator[Row]:
        """The table, in the order ``--help`` lists it."""
        for f in fields(cls):
            kind, help, setting, row = f.metadata["option"]
            name = f.name if setting is True else setting or None
            yield Row(f.name, f.default, Option(kind, help, setting=name, **row))

    def settings(self) -> dict[str, Any]:
        """The values the run's settings take as they are, by their settings field's name."""
        return {row.option.setting: getattr(self, row.name) for row in self.rows() if row.option.setting}


def row(name: str) -> Row:
    """The table's row of option ``name`` (its Python name)."""
    for found in OptimizeOptions.rows():
        if found.name == name:
            return found
    raise KeyError(name)


#: ``[tool.autotrace]`` keys of no ``optimize`` option: their defaults and kinds. ``user_repr``: recorded
#: values shown by their own ``__repr__`` (runs the program's code); read by the pytest plugin.
OTHER_KEYS: dict[str, tuple[Any, Kind]] = {"user_repr": (False, SWITCH)}
