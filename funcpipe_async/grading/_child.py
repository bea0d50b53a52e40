"""The grader's child process: run one task's checks on a submission's code, report in a file.

    python -m funcpipe_async.grading._child JOB.json

The parent (:mod:`funcpipe_async.grading.runner`) writes the job — the graded cells up to
the task's own, the task id, the time and output limits, a one-time token and where to
put the verdict — and trusts nothing but the verdict file this process writes at the end.
If the student's code ends this process first (a crash, a signal), there is no verdict
and the parent says so.

Inside, every cell runs in a ``try`` (a later task never loses points because an earlier
cell raised), under a time limit (``SIGALRM``; earlier tasks' cells get only a share of
it, so a hang in Task 1's top-level code does not also cost Task 2), with its printing
counted and discarded: more than the limit ends the task, and so does output written
around ``sys.stdout`` (counted on the real stdout/stderr files, which are capped in size).
``sys.exit`` and ``os._exit`` become verdicts instead of ending the process.
"""

from __future__ import annotations

import ast
import json
import os
import resource
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO

from funcpipe_async.grading import kit
from funcpipe_async.grading.checks import load_exercise
from funcpipe_async.grading.spec import Task

# Keep our own references: student code runs in this process and may rebind the originals.
_open, _dumps, _replace, _exit, _monotonic = open, json.dumps, os.replace, os._exit, time.monotonic

_FILE_SIZE_LIMIT = 64 * 1024 * 1024  # bytes any file written by this process may reach (fd-level output)
_MEMORY_LIMIT = 2 * 1024 * 1024 * 1024  # bytes of address space: a runaway allocation is a MemoryError


class _TimeLimit(BaseException):
    """Raised by the alarm: not an ``Exception``, so ``except Exception`` in student code cannot swallow it."""


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


def _written() -> int:
    """Bytes written so far to this process's real stdout and stderr files (output that
    bypassed ``sys.stdout``: ``os.write(1, …)``, ``sys.__stdout__``, C code, subprocesses)."""
    total = 0
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
                total += os.fstat(stream.fileno()).st_size
        except (OSError, ValueError):
            pass
    return total


def _on_alarm(signum: int, frame: Any) -> None:
    raise _TimeLimit()


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _run_cell_code(code: Any, namespace: dict[str, Any]) -> None:
    """Execute one compiled cell; a cell with top-level ``await`` gives a coroutine to drive."""
    value = eval(code, namespace)  # noqa: S307 - running the submission's code is the point
    if value is not None and hasattr(value, "__await__"):
        kit.run_awaitable(value)


def _grade(job: dict[str, Any]) -> dict[str, Any]:
    exercise = load_exercise(job["exercise"])
    task: Task = exercise.task(job["task"])
    seconds: float = float(job["seconds"])
    output = _CappedOutput(int(job["output_chars"]))
    sys.stdout = sys.stderr = output
    os._exit = _refuse_exit  # ending the process would lose the other checks' verdict too
    started = _monotonic()

    def remaining() -> float:
        return seconds - (_monotonic() - started)

    too_much = f"more than {output.limit:,} characters"
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    own_errors: list[str] = []
    written_before: int | None = None  # fd-level output before the task's own code first ran
    for cell in job["cells"]:
        own = cell["label"] == task.id
        where = "the setup cell" if cell["label"] == "setup" else f"Task {cell['label'][1:]}'s cell"
        try:
            code = compile(cell["source"], f"<{where}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            if own:
                line = getattr(error, "lineno", None)
                at = f"line {line}: " if line else ""
                magic = any(row.lstrip().startswith(("%", "!")) for row in cell["source"].splitlines())
                hint = "; the grader runs graded cells as plain Python: IPython magics (%…, !…) do not work there"
                own_errors.append(f"{where} has a syntax error ({at}{getattr(error, 'msg', error)}){hint if magic else ''}")
            continue
        if own and written_before is None:
            written_before = _written()
        output.used = 0
        # Earlier cells get a share of the time: a hang there must not cost this task everything.
        budget = remaining() if own else min(remaining(), max(seconds / 4, 0.5))
        try:
            with _time_limit(budget):
                _run_cell_code(code, namespace)
        except _TimeLimit:
            if own:
                return {
                    "status": "timeout",
                    "message": f"{where} did not finish within {seconds:g} s when run: top-level code in a task "
                    "cell should only define functions (is there a loop that never ends, or a wait for ever?)",
                }
        except _OutputLimit:
            if own:
                return {"status": "output-limit", "message": f"{where} printed {too_much} when run"}
        except (SystemExit, _ExitCalled) as error:
            if own:
                called = "os._exit()" if isinstance(error, _ExitCalled) else "sys.exit()"
                own_errors.append(f"{where} called {called} when run")
        except BaseException as error:  # noqa: BLE001 - a failing cell is reported, never fatal
            if own:
                own_errors.append(f"{where} raised {kit.describe_exception(error)} when run")
        if own and written_before is not None and _written() - written_before > output.limit:
            return {"status": "output-limit", "message": f"{where} printed {too_much} when run"}

    missing = [name for name in task.defines if name not in namespace]
    if missing:
        names = " and ".join(missing)
        why = f" ({'; '.join(own_errors)})" if own_errors else ""
        return {"status": "failed", "message": f"{names} is not defined after running Task {task.number}'s cell{why}"}

    output.used = 0
    before_checks = _written() if written_before is None else written_before
    verdict = _check(task, namespace, remaining(), seconds, too_much)
    if verdict["status"] != "timeout" and _written() - before_checks > output.limit:
        # Output that bypassed sys.stdout (os.write, a subprocess) decides the verdict: a
        # failure it caused ("File too large") is not the real story.
        return {
            "status": "output-limit",
            "message": f"the task's code wrote {too_much} to the output while being checked "
            "(os.write, sys.__stdout__ or a subprocess): remove that output",
        }
    if verdict["status"] == "passed" and own_errors:
        verdict["message"] += f" (note: {'; '.join(own_errors)}; the checks passed anyway)"
    return verdict


def _check(task: Task, namespace: dict[str, Any], budget: float, seconds: float, too_much: str) -> dict[str, Any]:
    """Run the task's check within ``budget`` seconds; every way it can end becomes a verdict."""
    try:
        with _time_limit(budget):
            feedback = task.check(namespace)
    except kit.NotDone as verdict:
        return {"status": "not-done", "message": str(verdict)}
    except kit.CheckFailed as verdict:
        return {"status": "failed", "message": str(verdict)}
    except _TimeLimit:
        return {
            "status": "timeout",
            "message": f"the checks did not finish within {seconds:g} s: is there a loop that never ends, "
            "or a plan that waits for ever (a sleep, an Event nobody sets)?",
        }
    except _OutputLimit:
        return {
            "status": "output-limit",
            "message": f"the task's code printed {too_much} while being checked: "
            "remove prints from loops (the grader does not show them)",
        }
    except (SystemExit, KeyboardInterrupt, _ExitCalled) as error:
        did = {_ExitCalled: "called os._exit()", SystemExit: "called sys.exit()"}.get(type(error), f"raised {type(error).__name__}")
        return {
            "status": "exited",
            "message": f"the task's code {did} while being checked: a task's functions must return, never end the program",
        }
    except BaseException as error:  # noqa: BLE001 - reported as the task's verdict
        return {"status": "error", "message": f"checking Task {task.number} raised {kit.describe_exception(error)}"}
    return {"status": "passed", "message": str(feedback)}


def _report(path: str, verdict: dict[str, Any]) -> None:
    partial = path + ".partial"
    with _open(partial, "w", encoding="utf-8") as handle:
        handle.write(_dumps(verdict))
    _replace(partial, path)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m funcpipe_async.grading._child JOB.json")
    with _open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    os.remove(argv[1])  # the token is not left lying around for the student's code to find
    token, task, result_path = job.pop("token"), job["task"], job.pop("result")
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the size limit fails instead of killing us
    for limit, value in ((resource.RLIMIT_FSIZE, _FILE_SIZE_LIMIT), (resource.RLIMIT_AS, _MEMORY_LIMIT)):
        try:
            _, hard = resource.getrlimit(limit)
            if hard == resource.RLIM_INFINITY or hard > value:
                resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):  # e.g. macOS refuses RLIMIT_AS: the outer time limit still holds
            pass
    real_stdout: TextIO = sys.stdout
    real_stderr: TextIO = sys.stderr
    try:
        verdict = _grade(job)
    except _TimeLimit:
        verdict = {"status": "timeout", "message": f"the task did not finish within {job['seconds']:g} s"}
    except BaseException as error:  # noqa: BLE001 - the grader's own failure is still a verdict
        verdict = {"status": "error", "message": f"the grader could not check this task: {kit.describe_exception(error)}"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = real_stdout, real_stderr
    _report(result_path, {"token": token, "task": task, **verdict})
    _exit(0)  # skip interpreter shutdown: a thread the student left running must not keep us alive


if __name__ == "__main__":
    main(sys.argv)
