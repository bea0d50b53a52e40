"""Compatibility: the names that lived here are now in three modules, one job each.

* :mod:`funcpipe_async.queues` — ``QueuePolicy``, ``BoundedQueue`` and the probe's event kinds;
* :mod:`funcpipe_async.pipelines` — ``Stage``, ``pipeline``, ``paced``, ``PipelineReport``;
* :mod:`funcpipe_async.queue_measures` — ``depth_series``, ``littles_law``.

Lessons import them from ``funcpipe_async``.  This module stays only for the grader's checks
(``funcpipe_async/grading/checks/``), which import from it; remove it once they do not.
"""

from __future__ import annotations

from funcpipe_async.pipelines import PipelineReport, Stage, paced, pipeline
from funcpipe_async.queue_measures import LittlesLaw, depth_series, littles_law
from funcpipe_async.queues import (
    DEQUEUE,
    DROP,
    ENQUEUE,
    GET_WAIT,
    OVERFLOWS,
    PUT_WAIT,
    QUEUE_CLOSED,
    QUEUE_FULL,
    REJECT,
    BoundedQueue,
    Overflow,
    QueueClosed,
    QueuePolicy,
    QueueStats,
)

__all__ = [
    "Overflow", "OVERFLOWS", "QueuePolicy", "BoundedQueue", "QueueClosed", "Stage", "QueueStats",
    "PipelineReport", "pipeline", "paced", "LittlesLaw", "littles_law", "depth_series", "ENQUEUE",
    "DEQUEUE", "DROP", "REJECT", "PUT_WAIT", "GET_WAIT", "QUEUE_FULL", "QUEUE_CLOSED",
]
