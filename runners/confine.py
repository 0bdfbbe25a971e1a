"""Confining an evaluation: candidate code is written by an LLM, so the process that runs it may write
only where the evaluation needs to (its scratch folder, the temp directory, ``/dev``), and no process it
starts may outlive it.

* Writes: Linux Landlock (unprivileged, kernel >= 5.13), called through ``ctypes``: a ruleset that
  handles every kind of write (write, truncate, create, delete, rename, link, mknod) and grants them
  only beneath the writable folders. Reads and execution are not handled, so they stay allowed. It is
  irreversible and inherited by every child, ``setsid`` or not. Landlock ABI >= 4 also confines TCP
  (``network=False``: no connect, no bind); ABI >= 6 stops the confined processes from signalling any
  process outside their domain (autotrace itself, the user's shell). Landlock does not cover
  ``chmod``/``chown``/``utime``: the caller checks the project's file modes (:mod:`.guard`).
* Processes: the confined process becomes a child subreaper, so an orphan among its descendants (a
  double-forked daemon, a ``start_new_session`` child whose parent exited) is re-parented to it rather
  than to init, and :func:`kill_descendants` can find and kill them all before it reports.

``AUTOTRACE_CONFINE=copy`` makes :func:`confine` apply nothing and say why: the evaluation then runs in
a private copy of the project, verified by hash afterwards (:mod:`.guard`) -- the protection used where
Landlock is missing, selectable so that it is tested on machines that have Landlock.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autotrace.transforms.hook import CACHE_DIR_ENV

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS, _PR_SET_CHILD_SUBREAPER = 1, 38, 36

# LANDLOCK_ACCESS_FS_*: every right that changes the file system, with the ABI that introduced it.
_WRITE_FILE, _REMOVE_DIR, _REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_MAKE = sum(1 << bit for bit in range(6, 13))  # MAKE_CHAR, _DIR, _REG, _SOCK, _FIFO, _BLOCK, _SYM
_REFER, _TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2  # ABI 4
_SCOPE_SIGNAL = 2  # ABI 6

#: The environment switch that selects the private-copy protection instead of Landlock.
MODE_ENV = "AUTOTRACE_CONFINE"
#: The one TCP port a confined evaluation may still connect to with ``network=False``: the program's model
#: proxy (:mod:`.app_model`), which sets it for the run. An environment variable because every way an
#: evaluation starts (fork server, spawn, pytest) inherits the environment. Landlock rules name a port,
#: not an address: the port is allowed on any host.
CONNECT_PORT_ENV = "AUTOTRACE_MODEL_PORT"


@dataclass(frozen=True)
class Confinement:
    """What a confined evaluation may change: files beneath ``writable`` only; TCP when ``network``."""

    writable: tuple[Path, ...]
    network: bool = True

    def to_json(self) -> str:
        return json.dumps({"writable": [str(p) for p in self.writable], "network": self.network})

    @classmethod
    def from_json(cls, text: str) -> Confinement:
        data = json.loads(text)
        return cls(tuple(Path(p) for p in data["writable"]), bool(data["network"]))


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when there is none (not Linux, kernel < 5.13, disabled)."""
    libc = _libc()
    if libc is None:
        return 0
    version = libc.syscall(ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def mechanism() -> str:
    """What :func:`confine` will put in force here: ``"landlock"``, or ``"none: <reason>"``."""
    if os.environ.get(MODE_ENV) == "copy":
        return f"none: {MODE_ENV}=copy"
    if landlock_abi() < 1:
        return "none: Landlock is not available (it needs Linux 5.13 or later with Landlock enabled)"
    return "landlock"


def network_unconfinable() -> str | None:
    """Why ``network=False`` cannot be enforced here, or None when it can (Landlock ABI >= 4)."""
    abi = landlock_abi()
    if abi >= 4 and os.environ.get(MODE_ENV) != "copy":
        return None
    have = (f"{MODE_ENV}=copy turns Landlock off" if os.environ.get(MODE_ENV) == "copy" else
            f"this system has Landlock ABI {abi}" if abi else "this system has no Landlock")
    return f"--no-network needs Linux Landlock ABI 4 or later (Linux 6.7+); {have}"


def _fs_rights(abi: int) -> int:
    rights = _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    return rights


def confine(policy: Confinement) -> str:
    """Apply ``policy`` to this process and all it will start, irreversibly; call it before user code is
    imported. Returns the mechanism in force: ``"landlock"`` or ``"none: <reason>"``. Raises OSError
    when Landlock is there but refuses the ruleset, and RuntimeError when ``network=False`` cannot be
    enforced: an evaluation must not run less confined than it was asked to be."""
    chosen = mechanism()
    if chosen != "landlock":
        if not policy.network:
            raise RuntimeError(network_unconfinable() or "the network cannot be confined here")
        return chosen
    libc = _libc()
    assert libc is not None
    abi = landlock_abi()
    if not policy.network and abi < 4:
        raise RuntimeError(network_unconfinable() or "the network cannot be confined here")
    rights = _fs_rights(abi)
    attr = _RulesetAttr(rights, 0 if policy.network else _NET_BIND_TCP | _NET_CONNECT_TCP,
                        _SCOPE_SIGNAL if abi >= 6 else 0)
    ruleset = _check(libc.syscall(ctypes.c_long(_SYS_CREATE_RULESET), ctypes.byref(attr),
                                  ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0)), "create a ruleset")
    try:
        for folder in policy.writable:
            try:
                fd = os.open(folder, os.O_PATH | os.O_CLOEXEC | os.O_DIRECTORY)
            except OSError:
                continue  # a folder that does not exist needs no right
            try:
                rule = _PathBeneathAttr(rights, fd)
                _check(libc.syscall(ctypes.c_long(_SYS_ADD_RULE), ctypes.c_int(ruleset),
                                    ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)),
                       f"allow writes beneath {folder}")
            finally:
                os.close(fd)
        if not policy.network and (port := connect_port()) is not None:
            port_rule = _NetPortAttr(_NET_CONNECT_TCP, port)
            _check(libc.syscall(ctypes.c_long(_SYS_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(_RULE_NET_PORT),
                                ctypes.byref(port_rule), ctypes.c_uint32(0)), f"allow connecting to port {port}")
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
        _check(libc.syscall(ctypes.c_long(_SYS_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)),
               "restrict itself")
    finally:
        os.close(ruleset)
    return "landlock"


def connect_port() -> int | None:
    """The port :data:`CONNECT_PORT_ENV` names, if any and valid."""
    text = os.environ.get(CONNECT_PORT_ENV, "")
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"Landlock: could not {what}: {os.strerror(errno)}")
    return result


def bytecode_cache() -> Path:
    """Where confined evaluations keep autotrace's rewritten modules: outside every project, since a
    confined process may not write there, and read only by confined processes (the user's own
    ``python`` and ``pytest`` keep using ``__pycache__``), so nothing a candidate plants in it reaches
    an unconfined import."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "autotrace", "pycache")


def enter(policy: Confinement, scratch: Path) -> str:
    """Everything a confined evaluation process does before user code: its temp folder inside its
    scratch folder (removed with it); no bytecode written beside the sources (Python's, pytest's), the
    rewritten modules cached in :func:`bytecode_cache`; then :func:`confine`. The environment carries
    it all to the program's own Python children."""
    temp = scratch / "tmp"
    temp.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(temp)
    tempfile.tempdir = None  # tempfile reads TMPDIR again
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    cache = bytecode_cache()
    try:
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ[CACHE_DIR_ENV] = str(cache)
    except OSError:
        pass  # no cache: the rewritten modules are compiled each time
    return confine(policy)


def become_subreaper() -> None:
    """Make orphaned descendants re-parent to this process (Linux; elsewhere a no-op: the process group
    kill is then all there is)."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Linux: send ``sig`` to this process when its parent dies (``fork`` clears the setting, so a forked
    child calls this again)."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def kill_descendants() -> None:
    """Kill every process this one started and every orphan re-parented to it, and reap them."""
    kill_tree(os.getpid(), include_root=False)
    while True:  # reap: a zombie child is gone but still listed
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_tree(root: int, *, include_root: bool = True, deadline: float = 5.0) -> None:
    """SIGKILL ``root``'s descendants (and ``root``): each is stopped first, so none can fork past the
    walk, then all are killed at once. Descendants are found in /proc (Linux)."""
    stopped: list[int] = []
    seen = {root}
    ends = time.monotonic() + deadline
    while time.monotonic() < ends:
        found = [pid for pid in _children(seen) if pid not in seen]
        if not found:
            break
        for pid in found:
            seen.add(pid)
            _signal(pid, signal.SIGSTOP)
            stopped.append(pid)
    if include_root:
        _signal(root, signal.SIGKILL)
    for pid in stopped:
        _signal(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (zombies included: they are still to be reaped)."""
    return _children({pid})


def _children(parents: set[int]) -> list[int]:
    """The children of ``parents``: from each one's ``/proc/PID/task/TID/children`` (a few reads), or,
    on a kernel without those files, by scanning every process's parent pid."""
    found: list[int] = []
    for parent in parents:
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children", "rb") as handle:
                    found.extend(int(pid) for pid in handle.read().split())
            except FileNotFoundError:
                return _scan(parents) if os.path.exists("/proc/self") else found
            except OSError:
                continue
    return found


def _scan(parents: set[int]) -> list[int]:
    found: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        if fields and fields[0] != b"Z" and int(fields[1]) in parents:
            found.append(int(name))
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str]) -> int:
    """``python -m autotrace.runners.confine POLICY.json SCRATCH -- COMMAND...``: run COMMAND confined
    (:func:`enter`), as a subreaper, and kill whatever it left behind when it ends (the ``--tests`` runs)."""
    policy = Confinement.from_json(Path(argv[0]).read_text(encoding="utf-8"))
    command = argv[argv.index("--") + 1:]
    become_subreaper()
    enter(policy, Path(argv[1]))
    child = subprocess.Popen(command)
    code = child.wait()
    kill_descendants()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
