"""Shared test set-up: every Hypothesis test runs under the course's one profile.

The profile is derandomized, keeps no example database and has no deadline, so the suite
is reproducible and writes no ``.hypothesis/`` folder.
"""

from __future__ import annotations

from funcpipe_async.testing import load_course_profile

load_course_profile()
