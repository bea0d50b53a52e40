"""The grader's trust boundary (issue 18): attacks on the grader gain nothing and touch nothing else.

One folder, graded for real by the command line with ``--strict``: a genuine solution,
submissions that attack the grader (``grading_fixtures/attacks.py``) and files that used
to stop a folder run (a FIFO, a symbolic link to a notebook outside the folder, a device,
a sparse 60 MB file, JSON nested 100,000 levels deep, a 5,000-digit integer, non-UTF-8
bytes, names with terminal escapes and spreadsheet formulas) — plus a symbolic link planted
where the gradebook goes.  The run must finish with a gradebook in which every attack
scores nothing, the genuine solution scores full marks, and no file outside the gradebook
changed.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from grading_fixtures import attacks
from grading_fixtures.build import load, with_cells, write

from funcpipe_async.grading import Limits, Report, confine, exercise_slugs, grade_folder, kit, load_exercise

ROOT = Path(__file__).resolve().parents[1]
SLUG = "01_async_await_as_descriptions"
SOLUTION = ROOT / "solutions" / f"{SLUG}.ipynb"
EXERCISE = ROOT / "exercises" / f"{SLUG}.ipynb"

pytestmark = pytest.mark.skipif(
    not confine.detect().confined,
    reason="the attacks kill and write what they can reach: only run them where workers are confined",
)


def _with_setup(notebook: dict, extra: str) -> dict:  # type: ignore[type-arg]
    for cell in notebook["cells"]:
        if "setup" in cell.get("metadata", {}).get("tags", []):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = source + "\n" + extra
    return notebook


def _fill(cell: str, folder: Path, gradebook: Path) -> str:
    return cell.replace("SUBMISSIONS", repr(str(folder))).replace("GRADEBOOK", repr(str(gradebook)))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    base = tmp_path_factory.mktemp("attacks")
    folder = base / "submissions"
    outside = base / "outside"
    outside.mkdir()
    gradebook = folder / "gradebook.csv"
    solution = load(SOLUTION)
    write(solution, folder / "genuine.ipynb")
    write(_with_setup(load(EXERCISE), attacks.PATCH_THE_CHECKS), folder / "patches the checks.ipynb")
    write(with_cells(solution, {"t1": attacks.FORGE_ON_THE_CHANNEL}), folder / "forges on the channel.ipynb")
    write(
        with_cells(solution, {"t1": _fill(attacks.ESCAPE_AND_SABOTAGE, folder, gradebook)}),
        folder / "escapes and sabotages.ipynb",
    )
    # files that used to stop the run
    os.mkfifo(folder / "fifo.ipynb")
    write(solution, outside / "elsewhere.ipynb")
    os.symlink(outside / "elsewhere.ipynb", folder / "symlink.ipynb")
    if os.geteuid() == 0:
        os.mknod(folder / "device.ipynb", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
    with open(folder / "huge.ipynb", "wb") as handle:
        handle.truncate(60_000_000)
    (folder / "deep.ipynb").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (folder / "bigint.ipynb").write_text('{"cells": [], "nbformat": ' + "9" * 5_000 + "}", encoding="utf-8")
    (folder / "latin1.ipynb").write_bytes(b'{"cells": [], "caf\xe9": 1}')
    write(solution, folder / "\x1b[2J\x1b[Hforged row.ipynb")
    write(solution, folder / "=HYPERLINK(1).ipynb")
    # a symbolic link where the gradebook goes: it must be replaced, never written through
    target = outside / "precious.txt"
    target.write_text("precious", encoding="utf-8")
    os.symlink(target, gradebook)
    before = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "funcpipe_async.grading",
            str(folder),
            "--strict",
            "--exercise",
            SLUG,
            "--timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.monotonic() - started
    time.sleep(4)  # long enough for an escaped daemon's second round of sabotage
    rows = {r["submission"]: r for r in csv.DictReader(gradebook.read_text(encoding="utf-8").splitlines())}
    return {
        "done": done,
        "rows": rows,
        "folder": folder,
        "gradebook": gradebook,
        "target": target,
        "outside": outside,
        "before": before,
        "elapsed": elapsed,
    }


def test_the_folder_run_finishes_with_a_gradebook(run: dict) -> None:  # type: ignore[type-arg]
    done = run["done"]
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "confined: " in done.stdout


def test_the_genuine_solution_scores_full_marks(run: dict) -> None:  # type: ignore[type-arg]
    row = run["rows"]["genuine.ipynb"]
    assert (row["total"], row["max_total"], row["status"]) == ("10", "10", "graded"), row


def test_patching_the_checks_from_the_setup_cell_gains_nothing(run: dict) -> None:  # type: ignore[type-arg]
    row = run["rows"]["patches the checks.ipynb"]
    assert row["total"] == "0", row


def test_forging_messages_on_the_channel_gains_nothing(run: dict) -> None:  # type: ignore[type-arg]
    # The forging cell also runs (as an earlier cell) in Tasks 2 and 3's workers, garbling
    # their channels too: the submission loses everything it garbled, and gains nothing.
    row = run["rows"]["forges on the channel.ipynb"]
    assert row["total"] == "0", row
    assert "forged" not in row["notes"]


def test_an_escaping_saboteur_loses_its_task_and_touches_nothing(run: dict) -> None:  # type: ignore[type-arg]
    row = run["rows"]["escapes and sabotages.ipynb"]
    assert (row["t1"], row["t2"], row["t3"]) == ("0", "4", "3"), row
    folder: Path = run["folder"]
    assert not (folder / "zz-planted.ipynb").exists()
    assert "pwned" not in run["gradebook"].read_text(encoding="utf-8")
    assert not Path("/tmp/funcpipe-pwned").exists()
    for path in folder.glob("*.ipynb"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 1_000_000:
            assert not path.read_bytes().endswith(b"pwned"), path
    marker = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and "313.75" in p.info["cmdline"]]
    assert marker == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("fifo.ipynb", "not a regular file"),
        ("symlink.ipynb", "is a symbolic link"),
        ("huge.ipynb", "larger than 50 MB"),
        ("deep.ipynb", "nested too deeply"),
        ("bigint.ipynb", "is not a notebook"),
        ("latin1.ipynb", "not UTF-8"),
    ],
)
def test_an_odd_file_is_a_not_graded_row(run: dict, name: str, reason: str) -> None:  # type: ignore[type-arg]
    row = run["rows"][name]
    assert row["status"].startswith("not graded: ") and reason in row["status"], row
    assert row["total"] == "0"


def test_a_device_is_a_not_graded_row(run: dict) -> None:  # type: ignore[type-arg]
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    assert "not a regular file" in run["rows"]["device.ipynb"]["status"]


def test_the_gradebook_replaces_a_symlink_instead_of_following_it(run: dict) -> None:  # type: ignore[type-arg]
    assert not run["gradebook"].is_symlink()
    assert run["target"].read_text(encoding="utf-8") == "precious"
    after = {p: p.read_bytes() for p in run["outside"].rglob("*") if p.is_file()}
    assert after == run["before"]


def test_names_are_escaped_on_the_terminal_and_neutralised_in_the_csv(run: dict) -> None:  # type: ignore[type-arg]
    assert "\x1b" not in run["done"].stdout
    assert "\\x1b[2J\\x1b[Hforged row.ipynb" in run["done"].stdout
    assert "\x1b[2J\x1b[Hforged row.ipynb" in run["rows"]  # the CSV keeps the real name (quoted by csv)
    assert "'=HYPERLINK(1).ipynb" in run["rows"]
    assert run["rows"]["'=HYPERLINK(1).ipynb"]["total"] == "10"


def test_fresh_examples_every_run_and_a_seed_replays_them() -> None:
    # The fixed examples come first in every run (a known mistake meets the same example, and
    # the same feedback, whatever the seed); then the run's fresh ones, which a lookup table of
    # the fixed examples' answers does not survive.
    from hypothesis import strategies as st

    def examples(seed: int | None, prop: Callable[[int], None] | None = None) -> list[int]:
        seen: list[int] = []

        def record(x: int) -> None:
            seen.append(x)
            if prop is not None:
                prop(x)

        kit.SEED = seed
        try:
            kit.for_all(st.integers(0, 10**9), record, examples=20)
        finally:
            kit.SEED = None
        return seen

    fixed = examples(None)
    one, two = examples(1), examples(2)
    assert one == examples(1)
    assert one[: len(fixed)] == two[: len(fixed)] == fixed
    assert len(one) > len(fixed) and one[len(fixed) :] != two[len(fixed) :]

    table = set(fixed)

    def tabulated(x: int) -> None:
        if x not in table:
            raise kit.CheckFailed(f"no answer for {x}")

    examples(None, tabulated)  # the table passes the fixed round alone…
    with pytest.raises(kit.CheckFailed, match="no answer for"):
        examples(1, tabulated)  # …and not a grading run


def test_a_tasks_known_cases_come_before_every_generated_one() -> None:
    # The boundary cases a check writes out (``known``) run first, whatever the seed, so a
    # mistake only they reveal is caught by every run with the same feedback.
    from hypothesis import strategies as st

    seen: list[int] = []
    kit.SEED = 7
    try:
        kit.for_all(st.integers(0, 10**9), seen.append, examples=5, known=[-1, -2])
        with pytest.raises(kit.CheckFailed, match="-2 is the boundary"):
            kit.for_all(st.integers(0, 10**9), _refuse(-2), examples=5, known=[-1, -2])
    finally:
        kit.SEED = None
    assert seen[:2] == [-1, -2] and all(x >= 0 for x in seen[2:]) and len(seen) > 5


def _refuse(bad: int) -> Callable[[int], None]:
    def prop(x: int) -> None:
        if x == bad:
            raise kit.CheckFailed(f"{bad} is the boundary")

    return prop


def test_strict_refuses_to_run_unconfined(tmp_path: Path) -> None:
    write(load(SOLUTION), tmp_path / f"{SLUG}.ipynb")
    env = {**os.environ, "FUNCPIPE_GRADING_UNCONFINED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "funcpipe_async.grading", str(tmp_path), "--strict"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2 and "--strict" in done.stderr and "UNCONFINED" in done.stderr, done.stderr
    assert not (tmp_path / "gradebook.csv").exists()


def test_json_answers_from_a_worker_are_only_parsed() -> None:
    from funcpipe_async.grading import protocol

    read, write_end = os.pipe()
    try:
        os.write(write_end, len(b"[" * 5000).to_bytes(4, "big") + b"[" * 5000)
        with pytest.raises(protocol.ProtocolError):
            protocol.receive(read, time.monotonic() + 5)
        os.write(write_end, (protocol.MAX_MESSAGE + 1).to_bytes(4, "big"))
        with pytest.raises(protocol.ProtocolError):
            protocol.receive(read, time.monotonic() + 5)
    finally:
        os.close(read)
        os.close(write_end)
    assert protocol.decode(json.loads(json.dumps(protocol.encode({"a": (1, [2])})))) == {"a": (1, [2])}


@pytest.fixture(scope="module")
def patched(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Every exercise's untouched notebook whose set-up cell patches that exercise's checks."""
    folder = tmp_path_factory.mktemp("patched")
    for slug in exercise_slugs():
        write(
            _with_setup(load(ROOT / "exercises" / f"{slug}.ipynb"), attacks.patch_the_checks(f"ex{slug}")),
            folder / f"{slug}.ipynb",
        )
    reports = grade_folder(folder, limits=Limits(seconds=10), strict=True)
    return {r.exercise: r for r in reports}


@pytest.mark.parametrize("slug", exercise_slugs())
def test_patching_any_exercises_checks_gains_nothing(patched: dict[str, Report], slug: str) -> None:
    # Every task is decided by a judge outside the worker: the untouched stubs still score 0.
    report = patched[slug]
    assert [t.id for t in report.tasks] == [t.id for t in load_exercise(slug).tasks]
    assert report.total == 0, report.text()
