"""``testing``: the course's one Hypothesis profile and the shared strategies."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings

from funcpipe_async import AsyncPlan, Err, Ok, async_bind, int_arrows, int_plans, load_course_profile, run_sync
from funcpipe_async.testing import COURSE_PROFILE, Arrow

ROOT = Path(__file__).resolve().parents[1]


def test_course_profile_is_deterministic_and_quiet() -> None:
    profile = settings.get_profile(COURSE_PROFILE)
    assert profile.derandomize is True
    assert profile.database is None
    assert profile.deadline is None
    assert profile.print_blob is False
    assert profile.max_examples == 100
    current = settings.default
    assert current is not None and current.derandomize is True  # conftest loaded it


def test_load_course_profile_sets_max_examples() -> None:
    try:
        load_course_profile(max_examples=7)
        current = settings.default
        assert current is not None and current.max_examples == 7 and current.derandomize is True
    finally:
        load_course_profile()
    current = settings.default
    assert current is not None and current.max_examples == 100


@pytest.mark.parametrize("bad", [0, -3, True, 1.5])
def test_load_course_profile_rejects_bad_max_examples(bad: object) -> None:
    with pytest.raises(ValueError, match="max_examples"):
        load_course_profile(max_examples=bad)  # type: ignore[arg-type]


@given(int_plans(), int_arrows())
def test_strategies_draw_plans_and_arrows_with_readable_reprs(m: AsyncPlan[int], f: Arrow) -> None:
    assert "0x" not in repr(m) and "0x" not in repr(f)
    assert repr(f).split("(")[0] in {"add", "double", "suspend_add", "fail_if_negative", "map_add"}
    assert isinstance(run_sync(async_bind(m, f)), (Ok, Err))


def test_course_profile_writes_no_hypothesis_folder(tmp_path: Path) -> None:
    # testing.py: "no example database (no `.hypothesis/` folder beside a notebook)".
    # A notebook runs with its own folder as the working directory; after a property check
    # under the course profile, that folder must not have gained a `.hypothesis/`.
    script = textwrap.dedent(
        """
        from hypothesis import given, strategies as st
        from funcpipe_async import async_pure, run_sync, setup

        setup()

        @given(st.integers())
        def prop(x):
            assert run_sync(async_pure(x)).value == x

        prop()
        """
    )
    (tmp_path / "lesson.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPOTHESIS")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "lesson.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson.py"]


def test_quiet_course_settings_are_deterministic_and_silent() -> None:
    from hypothesis import HealthCheck, Verbosity

    from funcpipe_async.testing import quiet_course_settings

    chosen = quiet_course_settings(17)
    assert (chosen.max_examples, chosen.derandomize, chosen.database, chosen.deadline) == (17, True, None, None)
    assert (chosen.print_blob, chosen.verbosity) == (False, Verbosity.quiet)
    assert set(chosen.suppress_health_check) == set(HealthCheck)
