"""The grader's judge: decide one task of one submission, without running any of its code.

    python -m funcpipe_async.grading._judge  < JOB.json  > VERDICT.json

Started by the runner (:mod:`funcpipe_async.grading.runner`), one per (submission, task).
It starts a worker (:mod:`funcpipe_async.grading._worker`) — inside the confinement
(:mod:`funcpipe_async.grading.confine`) when there is one — hands it the task's cells,
and then runs the task's *judge* here: the judge draws inputs from the run's seed, asks the
worker's probes for the student's answers over a dedicated pipe (JSON only, size- and
time-limited), and compares them with its own reference.  Nothing the worker sends is
executed or unpickled, and the worker cannot reach this process (another PID namespace,
no shared files): its only influence on the verdict is the data it answers with.

Limits: the worker's CPU time is limited inside it (``ITIMER_PROF``, then ``RLIMIT_CPU``);
the wall clock is only an outer bound (``wall`` seconds for the whole task), generous so a
loaded machine does not fail a genuine solution.  Output that bypasses ``sys.stdout`` is
measured here, on the files the worker writes to.  When the task ends the worker and
everything it started are killed.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from funcpipe_async.grading import confine, kit, protocol
from funcpipe_async.grading.checks import load_exercise
from funcpipe_async.grading.report import STATUSES
from funcpipe_async.grading.spec import Task

__all__ = ["judge_task"]


class _Halt(BaseException):
    """The worker ended the task (a limit, an exit, a crash): this verdict, whatever the judge was doing."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Channel:
    """The judge's :class:`~funcpipe_async.grading.spec.Worker`: requests out, plain data back."""

    def __init__(
        self,
        job: dict[str, Any],
        process: subprocess.Popen[bytes],
        to_worker: int,
        from_worker: int,
        outputs: list[Path],
    ) -> None:
        self.job = job
        self.process = process
        self.to_worker = to_worker
        self.from_worker = from_worker
        self.outputs = outputs
        self.deadline = time.monotonic() + float(job["wall"])
        self.asked = 0

    def receive(self) -> dict[str, Any]:
        try:
            message = protocol.receive(self.from_worker, self.deadline)
        except TimeoutError:
            used = confine.tree_cpu_seconds(self.process.pid)
            raise _Halt(
                "timeout",
                f"did not finish within {self.job['wall']:g} s of wall-clock time and was stopped, "
                f"having used {used:.1f} s of CPU time (the limit is {self.job['seconds']:g} s): is it waiting "
                "for something that never comes (a real sleep, a lock, input), or is the machine overloaded?",
            ) from None
        except (protocol.ProtocolError, OSError):
            raise self.ended() from None
        if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
            raise _Halt(
                "failed",
                "the worker answered with something that is not a message (did the task's code write to the grader's channel?)",
            )
        self.check_output()
        return message

    def check_output(self) -> None:
        limit = int(self.job["output_chars"])
        written = sum(p.stat().st_size for p in self.outputs if p.exists())
        if written > limit:
            raise _Halt(
                "output-limit",
                f"the task's code wrote more than {limit:,} characters to the output "
                "(os.write, sys.__stdout__ or a subprocess): remove that output",
            )

    def ended(self) -> _Halt:
        """The worker stopped talking: why (CPU limit, a signal, an exit)."""
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self.check_output()
        return _death(self.process, self.job)

    def ask(self, probe: str, payload: Any = None) -> Any:
        self.asked += 1
        try:
            protocol.send(self.to_worker, {"probe": probe, "payload": payload})
        except OSError:
            raise self.ended() from None
        message = self.receive()
        kind = message["kind"]
        if kind == "answer":
            try:
                return protocol.decode(message.get("data"))
            except Exception:  # noqa: BLE001 - malformed data is the worker's failure
                raise _Halt("failed", f"the worker's answer to {probe!r} could not be read") from None
        if kind == "failed":
            raise kit.CheckFailed(str(message.get("message", ""))[:2_000])
        if kind == "verdict":
            raise _from_worker(message)
        raise _Halt("failed", f"the worker answered {probe!r} with an unknown kind of message")


def _from_worker(message: dict[str, Any]) -> _Halt:
    """A verdict the worker reported (a time limit, an exit): never a pass."""
    status, text = message.get("status"), str(message.get("message", ""))[:2_000]
    if status not in STATUSES or status == "passed":
        return _Halt("failed", "the worker reported a verdict it may not give")
    return _Halt(str(status), text)


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _death(process: subprocess.Popen[bytes], job: dict[str, Any]) -> _Halt:
    seconds = float(job["seconds"])
    code = process.poll()
    if _cpu_used() >= seconds:
        return _Halt(
            "timeout",
            f"used more than {seconds:g} s of CPU time and was stopped: is there a loop that "
            "never ends, or a very slow step?",
        )
    if code is None or code < 0 or code >= 128:
        signum = -code if code is not None and code < 0 else (code - 128 if code is not None else signal.SIGKILL)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return _Halt(
            "crashed",
            f"the checking process was killed by {name} before the checks finished: "
            "did the task's code crash the interpreter?",
        )
    return _Halt(
        "exited",
        "the task's code ended the checking process before the checks finished (did it call sys.exit or os._exit?)",
    )


def _worker_env(confined: bool, home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COV_", "PYTEST_", "FUNCPIPE_"))}
    env.update(
        PYTHONPATH=str(job_package_parent()),
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        PYTHONSAFEPATH="1",
        HYPOTHESIS_STORAGE_DIRECTORY=os.path.join(
            "/tmp" if confined else tempfile.gettempdir(), "funcpipe-async-hypothesis"
        ),
    )
    if home is not None:  # another user: everything it may write is in its own work folder
        env.update(HOME=str(home), TMPDIR=str(home), HYPOTHESIS_STORAGE_DIRECTORY=str(home / ".hypothesis"))
    return env


def job_package_parent() -> Path:
    import funcpipe_async

    return Path(funcpipe_async.__file__).resolve().parent.parent


def _kill_all(process: subprocess.Popen[bytes]) -> None:
    """The worker, its process group and (unconfined) every descendant adopted by this process."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.kill()
    except OSError:
        pass
    process.wait()
    for _ in range(50):
        children = confine.children_of(os.getpid())
        if not children:
            break
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _worker_user(job: dict[str, Any]) -> dict[str, Any]:
    """``Popen`` arguments that run the worker as the job's unprivileged user (``user`` confinement)."""
    name = job.get("user")
    if not name or job["confined"]:
        return {}
    import pwd

    entry = pwd.getpwnam(str(name))
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def judge_task(job: dict[str, Any]) -> dict[str, Any]:
    """Decide one task: the verdict (``status``, ``message``)."""
    exercise = load_exercise(str(job["exercise"]))
    task: Task = exercise.task(str(job["task"]))
    confined = bool(job["confined"])
    if not confined:
        confine.become_subreaper()
    kit.SEED = job.get("seed")
    with tempfile.TemporaryDirectory(prefix="funcpipe-judge-", ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        outputs = [folder / "stdout.txt", folder / "stderr.txt"]
        worker_read, judge_write = os.pipe()
        judge_read, worker_write = os.pipe()
        worker_folder = folder / "work"
        worker_folder.mkdir()
        as_user = _worker_user(job)
        if as_user:
            folder.chmod(0o711)  # the worker (another user) may enter its own work folder, nothing else
            os.chown(worker_folder, as_user["user"], as_user["group"])
        with outputs[0].open("wb") as out, outputs[1].open("wb") as err:
            process = subprocess.Popen(
                [
                    *job["prefix"],
                    sys.executable,
                    "-m",
                    "funcpipe_async.grading._worker",
                    str(worker_read),
                    str(worker_write),
                ],
                cwd="/" if confined else worker_folder,
                env=_worker_env(confined, worker_folder if as_user else None),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(worker_read, worker_write),
                start_new_session=True,
                preexec_fn=confine.set_parent_death_signal,  # noqa: PLW1509 - this process has no threads
                **as_user,
            )
        os.close(worker_read)
        os.close(worker_write)
        channel = _Channel(job, process, judge_write, judge_read, outputs)
        try:
            verdict = _decide(task, job, channel)
        finally:
            os.close(judge_write)
            _kill_all(process)
            os.close(judge_read)
    return verdict


def _decide(task: Task, job: dict[str, Any], channel: _Channel) -> dict[str, Any]:
    worker_job = {
        key: job[key]
        for key in ("exercise", "task", "cells", "seconds", "output_chars", "seed", "confined", "hidden", "needed")
    }
    own_errors: list[str] = []
    try:
        try:
            protocol.send(channel.to_worker, worker_job)
        except OSError:
            raise channel.ended() from None
        ready = channel.receive()
        if ready["kind"] == "verdict":
            raise _from_worker(ready)
        if ready["kind"] != "ready":
            raise _Halt("failed", "the worker did not say it was ready")
        missing = (
            [str(n)[:100] for n in ready.get("missing", []) if isinstance(n, str)]
            if isinstance(ready.get("missing"), list)
            else []
        )
        own = ready.get("own_errors")
        own_errors = [str(e)[:500] for e in own] if isinstance(own, list) else []
        missing = [n for n in task.defines if n in missing]
        if missing:
            names = " and ".join(missing)
            why = f" ({'; '.join(own_errors)})" if own_errors else ""
            return {
                "status": "failed",
                "message": f"{names} is not defined after running Task {task.number}'s cell{why}",
            }
        feedback = task.judge(channel)
        verdict = {"status": "passed", "message": str(feedback)}
    except _Halt as halt:
        verdict = {"status": halt.status, "message": halt.message}
    except kit.NotDone as failure:
        return {"status": "not-done", "message": str(failure)}
    except kit.CheckFailed as failure:
        return {"status": "failed", "message": str(failure)}
    if verdict["status"] == "passed" and own_errors:
        verdict["message"] += f" (note: {'; '.join(own_errors)}; the checks passed anyway)"
    return verdict


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    try:
        verdict = judge_task(job)
    except BaseException as error:  # noqa: BLE001 - the grader's own failure is still a verdict
        verdict = {
            "status": "error",
            "message": f"the grader could not check this task: {kit.describe_exception(error)}",
        }
    sys.stdout.write(json.dumps(verdict))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
