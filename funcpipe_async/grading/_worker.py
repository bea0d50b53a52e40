"""The grader's worker: run one task's cells of a submission, then answer the judge's probes.

    python -m funcpipe_async.grading._worker IN_FD OUT_FD

Started by the judge (:mod:`funcpipe_async.grading._judge`), inside the confinement
(:mod:`funcpipe_async.grading.confine`) where there is one.  It reads the job — the graded
cells up to the task's own, the exercise and task, the CPU-time and output limits, the
folders to hide — as the first message on ``IN_FD``, confines itself, runs the cells, says
``ready`` (or why not) on ``OUT_FD``, then answers requests ``{"probe", "payload"}`` until
the judge closes the channel.  A *probe* (``PROBES`` in the exercise's checks module) calls
the student's function on the payload, drives any plan on virtual time, and answers with
plain data: results, recorded effects, instants, or the error raised.  The judge compares
that with its own reference; nothing this process says can award a point by itself (the
judge refuses a "passed" verdict from it).

Inside, every cell runs in a ``try`` (a later task never loses points because an earlier
cell raised), under a CPU-time limit (``ITIMER_PROF``; earlier tasks' cells get only a
share of it, and ``RLIMIT_CPU`` kills code that ignores the signal), with its printing
counted and discarded: more than the limit ends the task (output written around
``sys.stdout`` is measured by the judge on the files it gave this process).  ``sys.exit``
and ``os._exit`` become verdicts instead of ending the process.
"""

from __future__ import annotations

import ast
import importlib
import math
import os
import resource
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

from funcpipe_async.grading import confine, kit, protocol
from funcpipe_async.grading.checks import load_exercise
from funcpipe_async.grading.spec import Task

# Keep our own references: student code runs in this process and may rebind the originals.
_exit, _cpu, _send, _receive = os._exit, time.process_time, protocol.send, protocol.receive

_FILE_SIZE_LIMIT = 64 * 1024 * 1024  # bytes any file written by this process may reach (fd-level output)
_MEMORY_LIMIT = 2 * 1024 * 1024 * 1024  # bytes of address space: a runaway allocation is a MemoryError
_NPROC_LIMIT = 256  # processes (only where the worker has a user of its own; namespaces kill them anyway)


class _TimeLimit(BaseException):
    """Raised by the CPU timer: not an ``Exception``, so ``except Exception`` cannot swallow it."""


class _OutputLimit(BaseException):
    """Raised when the task's code prints more than it may."""


class _ExitCalled(BaseException):
    """Raised instead of ending the process when student code calls ``os._exit``."""


def _refuse_exit(status: int = 0) -> NoReturn:
    raise _ExitCalled(status)


class _CappedOutput:
    """A ``sys.stdout`` that discards text and raises once more than ``limit`` characters arrive."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def write(self, text: str) -> int:
        self.used += len(text)
        if self.used > self.limit:
            raise _OutputLimit()
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        raise OSError("the grader's output has no file descriptor")


def _on_cpu_limit(signum: int, frame: Any) -> None:
    raise _TimeLimit()


@contextmanager
def _cpu_limit(seconds: float) -> Iterator[None]:
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def _run_cell_code(code: Any, namespace: dict[str, Any]) -> None:
    """Execute one compiled cell; a cell with top-level ``await`` gives a coroutine to drive."""
    value = eval(code, namespace)  # noqa: S307 - running the submission's code is the point
    if value is not None and hasattr(value, "__await__"):
        kit.run_awaitable(value)


def _hide(names: tuple[str, ...], number: int) -> None:
    """Replace each of the package's answers to this task, wherever the package holds it, with a
    function that refuses — before any of the submission's code runs."""
    for dotted in names:
        module_name, _, attribute = dotted.rpartition(".")
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)

        def refuse(*args: Any, _name: str = dotted, **kwargs: Any) -> Any:
            raise RuntimeError(
                f"{_name} is the package's answer to Task {number}, so it is unavailable while "
                f"Task {number} is graded: write your own"
            )

        refuse.__name__ = getattr(original, "__name__", attribute)
        for loaded in list(sys.modules.values()):
            if getattr(loaded, "__name__", "").startswith("funcpipe_async"):
                for key, value in list(vars(loaded).items()):
                    if value is original:
                        setattr(loaded, key, refuse)


class _Worker:
    def __init__(self, job: Mapping[str, Any], out_fd: int) -> None:
        self.exercise = load_exercise(str(job["exercise"]))
        self.task: Task = self.exercise.task(str(job["task"]))
        self.module = importlib.import_module(f"funcpipe_async.grading.checks.ex{self.exercise.slug}")
        self.probes: Mapping[str, Any] = getattr(self.module, "PROBES", {})
        self.seconds = float(job["seconds"])
        self.output = _CappedOutput(int(job["output_chars"]))
        self.cells: list[dict[str, str]] = list(job["cells"])
        self.out_fd = out_fd
        self.pid = os.getpid()
        self.started = _cpu()
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        self.too_much = f"more than {self.output.limit:,} characters"

    def remaining(self) -> float:
        return self.seconds - (_cpu() - self.started)

    def run_cells(self) -> dict[str, Any]:
        """Run the cells; the message for the judge: ``ready`` (with notes) or an early verdict."""
        task, seconds = self.task, self.seconds
        _hide(task.hides, task.number)
        own_errors: list[str] = []
        for cell in self.cells:
            own = cell["label"] == task.id
            where = "the setup cell" if cell["label"] == "setup" else f"Task {cell['label'][1:]}'s cell"
            try:
                code = compile(
                    cell["source"], f"<{where}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
                )
            except (SyntaxError, ValueError) as error:
                if own:
                    line = getattr(error, "lineno", None)
                    at = f"line {line}: " if line else ""
                    magic = any(row.lstrip().startswith(("%", "!")) for row in cell["source"].splitlines())
                    hint = "; the grader runs graded cells as plain Python: IPython magics (%…, !…) do not work there"
                    own_errors.append(
                        f"{where} has a syntax error ({at}{getattr(error, 'msg', error)}){hint if magic else ''}"
                    )
                continue
            self.output.used = 0
            # Earlier cells get a share of the time: a hang there must not cost this task everything.
            budget = self.remaining() if own else min(self.remaining(), max(seconds / 4, 0.5))
            try:
                with _cpu_limit(budget):
                    _run_cell_code(code, self.namespace)
            except _TimeLimit:
                if own:
                    return {
                        "kind": "verdict",
                        "status": "timeout",
                        "message": f"{where} used more than {seconds:g} s of CPU time when run: top-level code in "
                        "a task cell should only define functions (is there a loop that never ends?)",
                    }
            except _OutputLimit:
                if own:
                    return {
                        "kind": "verdict",
                        "status": "output-limit",
                        "message": f"{where} printed {self.too_much} when run",
                    }
            except (SystemExit, _ExitCalled) as error:
                if own:
                    called = "os._exit()" if isinstance(error, _ExitCalled) else "sys.exit()"
                    own_errors.append(f"{where} called {called} when run")
            except BaseException as error:  # noqa: BLE001 - a failing cell is reported, never fatal
                if own:
                    own_errors.append(f"{where} raised {kit.describe_exception(error)} when run")
        missing = [name for name in task.defines if name not in self.namespace]
        return {"kind": "ready", "missing": missing, "own_errors": own_errors}

    def answer(self, request: Any) -> dict[str, Any]:
        """One probe's answer, or the verdict that ended it."""
        if not isinstance(request, dict) or not isinstance(request.get("probe"), str):
            return {"kind": "verdict", "status": "error", "message": "the judge sent a malformed request"}
        name = request["probe"]
        self.output.used = 0
        try:
            with _cpu_limit(self.remaining()):
                probe = self.probes.get(name)
                if probe is None:
                    return {"kind": "verdict", "status": "error", "message": f"the worker has no probe {name!r}"}
                return {"kind": "answer", "data": protocol.encode(probe(self.namespace, request.get("payload")))}
        except kit.NotDone as verdict:
            return {"kind": "verdict", "status": "not-done", "message": str(verdict)}
        except kit.CheckFailed as verdict:
            return {"kind": "failed", "message": str(verdict)}
        except _TimeLimit:
            return {
                "kind": "verdict",
                "status": "timeout",
                "message": f"the checks used more than {self.seconds:g} s of CPU time: is there a loop that never ends, "
                "or a plan that waits for ever?",
            }
        except _OutputLimit:
            return {
                "kind": "verdict",
                "status": "output-limit",
                "message": f"the task's code printed {self.too_much} while being checked: "
                "remove prints from loops (the grader does not show them)",
            }
        except (SystemExit, KeyboardInterrupt, _ExitCalled) as error:
            did = {_ExitCalled: "called os._exit()", SystemExit: "called sys.exit()"}.get(
                type(error), f"raised {type(error).__name__}"
            )
            return {
                "kind": "verdict",
                "status": "exited",
                "message": f"the task's code {did} while being checked: a task's functions must return, never end the program",
            }
        except BaseException as error:  # noqa: BLE001 - reported as the task's verdict
            return {
                "kind": "verdict",
                "status": "error",
                "message": f"checking Task {self.task.number} raised {kit.describe_exception(error)}",
            }

    def serve(self, in_fd: int) -> None:
        while True:
            try:
                request = _receive(in_fd)
            except (protocol.ProtocolError, OSError):
                return  # the judge is done
            if os.getpid() != self.pid:
                _exit(0)
            try:
                reply = self.answer(request)
            except _TimeLimit:  # the timer fired between the probe's end and its answer
                reply = {
                    "kind": "verdict",
                    "status": "timeout",
                    "message": f"the checks used more than {self.seconds:g} s of CPU time",
                }
            try:
                _send(self.out_fd, reply)
            except (protocol.ProtocolError, ValueError, TypeError) as error:
                _send(
                    self.out_fd,
                    {
                        "kind": "failed",
                        "message": f"the task's code produced an answer the grader cannot carry ({type(error).__name__})",
                    },
                )


def _set_limits(cpu_seconds: float) -> None:
    """Hard limits for this process and what it starts: CPU time, file size, memory, processes."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime + cpu_seconds) + 2
    limits = [
        (resource.RLIMIT_CPU, soft, soft + 1),
        (resource.RLIMIT_FSIZE, _FILE_SIZE_LIMIT, _FILE_SIZE_LIMIT),
        (resource.RLIMIT_AS, _MEMORY_LIMIT, _MEMORY_LIMIT),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    for limit, wanted_soft, wanted_hard in limits:
        try:
            _, hard = resource.getrlimit(limit)
            if hard != resource.RLIM_INFINITY:
                wanted_hard = min(wanted_hard, hard)
                wanted_soft = min(wanted_soft, wanted_hard)
            resource.setrlimit(limit, (wanted_soft, wanted_hard))
        except (ValueError, OSError):  # e.g. macOS refuses RLIMIT_AS: the judge's outer limits still hold
            pass


def _be_init() -> None:
    """As PID 1 of a fresh PID namespace, fork: the child goes on as the worker, this process
    stays as the namespace's init — it reaps orphans and, when the worker ends, exits with
    its status (``128 + signal`` if it was killed), which ends every process left inside.
    (The kernel protects PID 1 from its own signals, so the worker must not be PID 1: a
    submission that kills itself must really die.)"""
    worker = os.fork()
    if worker == 0:
        return
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            _exit(0)
        if pid == worker:
            _exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit("usage: python -m funcpipe_async.grading._worker IN_FD OUT_FD")
    in_fd, out_fd = int(argv[1]), int(argv[2])
    if os.getpid() == 1:
        _be_init()
    job = _receive(in_fd)
    worker = _Worker(job, out_fd)
    me = os.getpid()

    def forget_the_channel() -> None:  # a process the student's code forks never talks to the judge
        for fd in (in_fd, out_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    os.register_at_fork(after_in_child=forget_the_channel)
    if job.get("confined"):
        os.chdir(confine.lock_down(list(job.get("hidden", [])), list(job.get("needed", []))))
    kit.SEED = job.get("seed")
    signal.signal(signal.SIGPROF, _on_cpu_limit)
    signal.signal(signal.SIGXCPU, _on_cpu_limit)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the size limit fails instead of killing us
    _set_limits(worker.seconds)
    real_stdout, real_stderr = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = worker.output
    os._exit = _refuse_exit  # ending the process would lose the other checks' verdict too
    try:
        try:
            ready = worker.run_cells()
        except _TimeLimit:
            ready = {
                "kind": "verdict",
                "status": "timeout",
                "message": f"the task's cells used more than {worker.seconds:g} s of CPU time",
            }
        if os.getpid() != me:  # a fork that returned through the cells (its os._exit was refused)
            _exit(0)
        _send(out_fd, ready)
        if ready["kind"] == "ready":
            worker.serve(in_fd)
    except BaseException:  # noqa: BLE001 - the judge notices the silence and says so
        if os.getpid() != me:
            _exit(0)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        sys.stdout, sys.stderr = real_stdout, real_stderr
    _exit(0)  # skip interpreter shutdown: a thread the student left running must not keep us alive


if __name__ == "__main__":
    main(sys.argv)
