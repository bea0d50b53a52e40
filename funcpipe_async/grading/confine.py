"""Confinement: where a worker running a student's code may reach, and how that is enforced.

Two levels, chosen by :func:`detect` and always named in the grader's output:

* ``namespaces`` (Linux, via util-linux's ``unshare``; as root, or as a user where user
  namespaces are allowed): the worker is PID 1 of a new PID namespace, so every process it
  starts — forked, ``setsid``-ed, double-forked — dies with it when the task ends, and it
  sees no other process (not the grader, not other jobs); a new network namespace (no
  network); a new mount namespace in which, before any student code runs,
  :func:`lock_down` mounts a private, empty ``/tmp`` (other jobs' folders, the judge's
  files), hides the submissions folder and the gradebook's folder under empty mounts,
  makes every other mount read-only, then drops every capability (so none of this can be
  undone) and sets ``no_new_privs``.
* ``user`` (no namespaces — a container that forbids them, as on Gradescope — but the grader
  runs as root and ``FUNCPIPE_GRADING_USER`` names an existing unprivileged user): as
  ``unconfined``, and the worker runs as that user, so it cannot write the grader's files
  (the gradebook, ``results.json``, other submissions) or signal the grader's processes.
* ``unconfined`` (macOS, or Linux without ``unshare``): the worker runs in its own session
  with resource limits; the judge adopts orphans (``PR_SET_CHILD_SUBREAPER`` on Linux) and
  kills its process group and every descendant it can find at the end.  A student's
  "Check your work" may run like this; ``--strict`` (instructor grading) refuses to, and to
  run as ``user`` too.

``FUNCPIPE_GRADING_UNCONFINED=1`` skips the namespaces (to test the other levels).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Confinement",
    "detect",
    "lock_down",
    "become_subreaper",
    "set_parent_death_signal",
    "NAMESPACES",
    "USER",
    "UNCONFINED",
]

NAMESPACES = "namespaces"
USER = "user"
UNCONFINED = "unconfined"


@dataclass(frozen=True)
class Confinement:
    """How workers are confined: ``mode`` and the command prefix that starts one."""

    mode: str
    prefix: tuple[str, ...] = ()
    user: str | None = None

    @property
    def confined(self) -> bool:
        return self.mode == NAMESPACES

    def describe(self) -> str:
        if self.confined:
            return (
                "confined: each task's code ran in its own PID, network and mount namespaces "
                "(descendants killed with it, no network, private /tmp, submissions hidden, read-only files, "
                "no capabilities), with CPU-time, memory and file-size limits"
            )
        if self.mode == USER:
            return (
                f"confined by user: no namespaces here, so each task's code ran as the unprivileged user {self.user} "
                "(it cannot write the grader's files or signal its processes), in its own session, with CPU-time, "
                "memory and file-size limits; its descendants were killed with it"
            )
        return (
            "UNCONFINED: no namespaces on this machine, so the code ran as you, in its own session with "
            "CPU-time, memory and file-size limits only (fine for checking your own work; "
            "instructors grade with --strict on Linux)"
        )


def _unshare_prefix(user: bool) -> tuple[str, ...]:
    tool = shutil.which("unshare")
    if tool is None:
        return ()
    flags = ["--user", "--map-root-user"] if user else []
    return (
        tool,
        *flags,
        "--pid",
        "--fork",
        "--kill-child",
        "--net",
        "--mount",
        "--mount-proc",
        "--propagation",
        "private",
        "--",
    )


@functools.lru_cache(maxsize=1)
def detect() -> Confinement:
    """The best confinement this machine offers (tried once per process)."""
    if not sys.platform.startswith("linux"):
        return Confinement(UNCONFINED)
    if os.environ.get("FUNCPIPE_GRADING_UNCONFINED") == "1":
        return _user_or_unconfined()
    for user in (False,) if os.geteuid() == 0 else (True,):
        prefix = _unshare_prefix(user)
        if not prefix:
            break
        try:
            done = subprocess.run(
                [*prefix, sys.executable, "-c", "import os; assert os.getpid() == 1"],
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return Confinement(NAMESPACES, prefix)
    return _user_or_unconfined()


def _user_or_unconfined() -> Confinement:
    name = os.environ.get("FUNCPIPE_GRADING_USER", "")
    if name and os.geteuid() == 0:
        import pwd

        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return Confinement(UNCONFINED)
        if entry.pw_uid != 0 and _runs_as(entry.pw_uid, entry.pw_gid):
            return Confinement(USER, user=name)
    return Confinement(UNCONFINED)


def _runs_as(uid: int, gid: int) -> bool:
    """Whether that user can start this interpreter and import the package (it may live in a
    folder only root can enter, such as ``/root/.pyenv``)."""
    import funcpipe_async

    parent = os.path.dirname(os.path.dirname(os.path.realpath(funcpipe_async.__file__)))
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import funcpipe_async.grading._worker"],
            cwd="/",
            env={"PYTHONPATH": parent, "PATH": os.environ.get("PATH", "")},
            user=uid,
            group=gid,
            extra_groups=[],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


# --- inside the worker (Linux) ------------------------------------------------------------

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
_PR_SET_NO_NEW_PRIVS, _PR_SET_CHILD_SUBREAPER, _PR_SET_PDEATHSIG = 38, 36, 1


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mount(
    libc: ctypes.CDLL, source: str, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    result = libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 4:
                points.append(fields[4].encode("latin-1", "replace").decode("unicode_escape", "replace"))
    return points


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def lock_down(hidden: list[str], needed: list[str]) -> str:
    """Confine this process (PID 1 of fresh namespaces, still privileged there); return its work folder.

    ``hidden`` folders get an empty mount over them, unless one holds something in ``needed``
    (the interpreter, the package), which is then left visible; the rest of the file system
    becomes read-only; ``/tmp`` becomes a private, empty folder; then every capability goes.
    """
    libc = _libc()
    _mount(libc, "none", "/", None, _MS_REC | _MS_PRIVATE)
    real_needed = [os.path.realpath(p) for p in needed]
    for folder in [os.path.realpath(h) for h in hidden]:
        if folder in ("/", "") or any(_inside(n, folder) for n in real_needed) or not os.path.isdir(folder):
            continue
        _mount(libc, "tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_RDONLY, "size=4k,mode=0555")
    for point in sorted(set(_mount_points()), key=len):
        if point.startswith(("/proc", "/sys", "/dev")):
            continue
        try:
            _mount(libc, point, point, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
        except OSError:
            pass  # a mount we cannot remount (already read-only, or locked) stays as it is
    tmp = "/tmp"
    if not any(_inside(n, tmp) for n in real_needed):
        _mount(libc, "tmpfs", tmp, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=256m,mode=1777")
    else:
        # The interpreter or the package lives under /tmp (a checkout or venv there): /tmp must stay
        # visible, and is read-only now, so the private writable folder is a fresh tmpfs on /dev/shm.
        tmp = "/dev/shm"
        _mount(libc, "tmpfs", tmp, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=256m,mode=1777")
    if tmp != "/dev/shm" and os.path.isdir("/dev/shm"):
        try:
            _mount(libc, "tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64m,mode=1777")
        except OSError:
            pass
    work = os.path.join(tmp, "work")
    os.makedirs(work, exist_ok=True)
    os.environ["TMPDIR"] = work  # tempfile and subprocesses write in the private folder
    tempfile.tempdir = None
    _drop_capabilities(libc)
    return work


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    for cap in range(64):  # the bounding set: nothing exec'd later regains a capability
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP; fails quietly past the last capability
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"capset: {os.strerror(errno)}")
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"no_new_privs: {os.strerror(errno)}")


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants (Linux); False where that does not exist."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(_libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except OSError:
        return False


def set_parent_death_signal() -> None:
    """In a child about to exec (``preexec_fn``): die with SIGKILL when the parent dies (Linux)."""
    if sys.platform.startswith("linux"):
        _libc().prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)


def children_of(pid: int) -> list[int]:
    """The live children of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its live descendants (Linux ``/proc``)."""
    total, todo, seen = 0.0, [pid], set()
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = (
                Path(f"/proc/{current}/stat").read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[-1].split()
            )
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            pass
        todo.extend(children_of(current))
    return total
