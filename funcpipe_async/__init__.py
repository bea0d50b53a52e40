"""FuncPipe Async — Module 08's shared package: async work as explicit, testable descriptions.

Where things live (the folders show the description / driver boundary):

* describing work — ``result``, ``plan``, ``io_plan``, ``gather``, ``streams``,
  ``queues``, ``pipelines``, ``queue_measures``, ``policies``, ``ratelimit``, ``fairness``, ``chunking``, ``ledger``,
  ``trace``, ``clock``, ``ports``, ``contracts``, ``fakes``, ``testing``: build and transform
  plans, never run them;
* the outside world — ``adapters/`` (httpx, SQLite, a blocking library behind ``to_thread``)
  and ``loopback`` (a real JSON service on 127.0.0.1 for lessons and tests);
* driving work — ``shell/``: ``perform_async``, ``run_sync``, the virtual-time driver
  ``Simulation`` and the law checker, the only code that turns a description into effects
  (checked by ``boundary``); ``demos/``: the slider demos, small shells that re-simulate;
* showing work — ``plots``, ``notebook``, ``quiz``: figures, alt text and quizzes for the
  lessons.

Everything a lesson teaches is importable from here and listed in ``__all__``.  The parts
that need matplotlib, Hypothesis or ipywidgets load on first use, so ``import
funcpipe_async`` stays fast in scripts and in the grader's subprocesses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from funcpipe_async.chunking import (
    BatchCost,
    BatchPolicy,
    BatchState,
    Flush,
    batch_calls,
    batch_due,
    batch_flush,
    batch_offer,
    batch_schedule,
    batch_tick,
    Served,
    serve_batches,
    pull_schedule,
)
from funcpipe_async.clock import VirtualClock
from funcpipe_async.fakes import (
    HANG,
    BatchEmbedder,
    FakeEmbedder,
    FakeHttp,
    FakePayments,
    FakeStorage,
    ScriptedHttp,
    ScriptedService,
    hash_embedding,
)
from funcpipe_async.gather import async_gather, async_sequence
from funcpipe_async.io_plan import IOPlan, io_bind, io_delay, io_map, io_pure
from funcpipe_async.ledger import Ledger, Outcome, Step, account_for
from funcpipe_async.plan import (
    AsyncPlan,
    PlanNode,
    PlanTypeError,
    ReusedCoroutineError,
    async_bind,
    async_fail,
    async_from_result,
    async_lift,
    async_map,
    async_pure,
    async_settle,
)
from funcpipe_async.policies import (
    ATTEMPT,
    CANCELLED,
    GIVE_UP,
    OUTCOME,
    TIMEOUT,
    WAIT,
    Backoff,
    ConstantBackoff,
    ExponentialBackoff,
    Jitter,
    RetryBudget,
    RetryPolicy,
    apply_jitter,
    async_retry,
    async_timeout,
    backoff_delay,
    delay_schedule,
    is_retryable,
    schedule_table,
)
from funcpipe_async.ports import EmbeddingCap, HttpClientCap, StorageCap, check_key, encode_record, encode_save
from funcpipe_async.result import Err, ErrInfo, Ok, Result, assert_never
from funcpipe_async.shell.runtime import perform_async, run_sync
from funcpipe_async.shell.virtual import (
    DeadlockError, LeftoverTasksError, Simulation, SimulationLimitError, run_virtual,
)
from funcpipe_async.trace import (
    DESCRIBE,
    DONE,
    DRIVE,
    FINISH,
    START,
    Event,
    LogicalClock,
    Span,
    Trace,
    format_table,
)

# --- streams (lesson 02): eager imports here; add the names to __all__ below -----------------
from funcpipe_async.streams import (
    CLOSE,
    CONSUME,
    EMIT,
    PULL,
    Resource,
    Stream,
    StreamFailed,
    merge_streams,
    stream_count,
    stream_from,
    stream_of,
)
# --- end streams ---
# --- backpressure (lesson 03): eager imports here ----------------------------------------------
from funcpipe_async.queues import (
    Overflow,
    OVERFLOWS,
    QueuePolicy,
    BoundedQueue,
    QueueClosed,
    QueueStats,
    ENQUEUE,
    DEQUEUE,
    DROP,
    REJECT,
    PUT_WAIT,
    GET_WAIT,
    QUEUE_FULL,
    QUEUE_CLOSED,
)
from funcpipe_async.pipelines import PipelineReport, Stage, paced, pipeline
from funcpipe_async.queue_measures import LittlesLaw, depth_series, littles_law
# --- end backpressure ---
# --- rate limiting and fairness (lesson 06): eager imports here --------------------------------
from funcpipe_async.fairness import (
    Completion,
    DeficitRoundRobin,
    Fifo,
    Request,
    RoundRobin,
    Scheduler,
    Tenant,
    TenantStats,
    completions_from_trace,
    fair_source,
    jain_index,
    max_min_shares,
    percentile,
    poisson_arrivals,
    serve_on_loop,
    simulate_schedule,
    stats_table,
    tenant_stats,
    work_shares,
)
from funcpipe_async.ratelimit import (
    AsyncRateLimiter,
    Bucket,
    Decision,
    KeyedLimiter,
    LeakyBucket,
    LeakyState,
    TokenBucket,
    TokenState,
    leaky_bucket_step,
    max_window_cost,
    run_bucket,
    token_bucket_step,
)
# --- end rate limiting and fairness ---
# --- contracts (lesson 07) ---------------------------------------------------------------------
from funcpipe_async.contracts import STORAGE_CONTRACT, Clause, ContractReport, Verdict, run_contract, without_lifetime
# --- end contracts ---

if TYPE_CHECKING:
    from funcpipe_async.adapters import (
        HttpxJsonClient,
        SqliteStorage,
        ThreadedEmbedder,
        classify_status,
        classify_transport_error,
    )
    from funcpipe_async.loopback import Faults, LoopbackJsonService
    from funcpipe_async.boundary import Violation, check_package, scan_source
    from funcpipe_async.notebook import api_summary, environment_report, figure_png, first_sentence, setup, show_figure
    from funcpipe_async.plots import (
        AttemptSpan,
        attempt_spans,
        attempt_timeline_summary,
        course_rc,
        drive_timeline_summary,
        plot_attempt_timeline,
        plot_drive_timeline,
    )
    from funcpipe_async.quiz import Question, answer_key_html, quiz_widget
    from funcpipe_async.shell.laws import (
        LawReport,
        Observation,
        check_gather_laws,
        check_law,
        check_monad_laws,
        check_retry_laws,
        check_stream_laws,
        observe,
    )
    from funcpipe_async.testing import (
        COURSE_PROFILE,
        ArrowScript,
        EffectLog,
        PlanScript,
        ScriptOp,
        arrow_scripts,
        int_arrows,
        int_plans,
        load_course_profile,
        plan_scripts,
        stream_scripts,
        StreamScript,
        bucket_arrivals,
        bucket_bursts,
        bucket_rates,
    )
    # --- lazy (matplotlib / ipywidgets) names for lessons 02, 03, 06: import them here too ---
    from funcpipe_async.plots import plot_stream_events, stream_events_summary  # lesson 02
    from funcpipe_async.plots import cumulative_requests_summary, plot_cumulative_requests  # lesson 04
    from funcpipe_async.plots import plot_wait_vs_capacity, wait_vs_capacity_summary  # lesson 03
    from funcpipe_async.demos.fairness import (  # lesson 06
        FairnessControls, FairnessRun, FairnessView, fairness_demo, fairness_summary, fairness_table, normalised_throughput,
        plot_fairness, presentation_rc, redraw_fairness_png, render_fairness, simulate_fairness,
    )
    from funcpipe_async.demos.backpressure import (  # lesson 03
        STRATEGIES,
        BackpressureRun,
        simulate_backpressure,
        plot_strategies,
        strategies_summary,
        plot_unbounded_vs_bounded,
        unbounded_vs_bounded_summary,
        littles_law_summary,
        render_backpressure,
        backpressure_summary,
        redraw_backpressure_png,
        backpressure_demo,
    )
    # --- end lazy lessons 02, 03, 06 ---

__version__ = "0.1.0"

_LAZY = {
    "Violation": "funcpipe_async.boundary",
    "check_package": "funcpipe_async.boundary",
    "scan_source": "funcpipe_async.boundary",
    "environment_report": "funcpipe_async.notebook",
    "figure_png": "funcpipe_async.notebook",
    "setup": "funcpipe_async.notebook",
    "show_figure": "funcpipe_async.notebook",
    "api_summary": "funcpipe_async.notebook",
    "first_sentence": "funcpipe_async.notebook",
    "course_rc": "funcpipe_async.plots",
    "drive_timeline_summary": "funcpipe_async.plots",
    "plot_drive_timeline": "funcpipe_async.plots",
    "AttemptSpan": "funcpipe_async.plots",
    "attempt_spans": "funcpipe_async.plots",
    "attempt_timeline_summary": "funcpipe_async.plots",
    "plot_attempt_timeline": "funcpipe_async.plots",
    "Question": "funcpipe_async.quiz",
    "answer_key_html": "funcpipe_async.quiz",
    "quiz_widget": "funcpipe_async.quiz",
    "LawReport": "funcpipe_async.shell.laws",
    "check_monad_laws": "funcpipe_async.shell.laws",
    "check_gather_laws": "funcpipe_async.shell.laws",
    "check_retry_laws": "funcpipe_async.shell.laws",
    "check_stream_laws": "funcpipe_async.shell.laws",
    "check_law": "funcpipe_async.shell.laws",
    "observe": "funcpipe_async.shell.laws",
    "Observation": "funcpipe_async.shell.laws",
    "COURSE_PROFILE": "funcpipe_async.testing",
    "int_arrows": "funcpipe_async.testing",
    "int_plans": "funcpipe_async.testing",
    "load_course_profile": "funcpipe_async.testing",
    "EffectLog": "funcpipe_async.testing",
    "ScriptOp": "funcpipe_async.testing",
    "PlanScript": "funcpipe_async.testing",
    "ArrowScript": "funcpipe_async.testing",
    "plan_scripts": "funcpipe_async.testing",
    "arrow_scripts": "funcpipe_async.testing",
    "StreamScript": "funcpipe_async.testing",
    "stream_scripts": "funcpipe_async.testing",
    "bucket_rates": "funcpipe_async.testing",
    "bucket_bursts": "funcpipe_async.testing",
    "bucket_arrivals": "funcpipe_async.testing",
    # --- lazy: lessons 07-08 (adapters import httpx and sqlite3) ---
    "HttpxJsonClient": "funcpipe_async.adapters",
    "SqliteStorage": "funcpipe_async.adapters",
    "ThreadedEmbedder": "funcpipe_async.adapters",
    "classify_status": "funcpipe_async.adapters",
    "classify_transport_error": "funcpipe_async.adapters",
    "Faults": "funcpipe_async.loopback",
    "LoopbackJsonService": "funcpipe_async.loopback",
    # --- lazy: lesson 02 (streams figures) ---
    "plot_stream_events": "funcpipe_async.plots",
    "stream_events_summary": "funcpipe_async.plots",
    # --- lazy: lesson 04 (retry storm figure) ---
    "plot_cumulative_requests": "funcpipe_async.plots",
    "cumulative_requests_summary": "funcpipe_async.plots",
    # --- lazy: lesson 03 (the wait-vs-capacity figure) ---
    "plot_wait_vs_capacity": "funcpipe_async.plots",
    "wait_vs_capacity_summary": "funcpipe_async.plots",
    # --- lazy: lesson 03 (funcpipe_async.demos.backpressure) ---
    "STRATEGIES": "funcpipe_async.demos.backpressure",
    "BackpressureRun": "funcpipe_async.demos.backpressure",
    "simulate_backpressure": "funcpipe_async.demos.backpressure",
    "plot_strategies": "funcpipe_async.demos.backpressure",
    "strategies_summary": "funcpipe_async.demos.backpressure",
    "plot_unbounded_vs_bounded": "funcpipe_async.demos.backpressure",
    "unbounded_vs_bounded_summary": "funcpipe_async.demos.backpressure",
    "littles_law_summary": "funcpipe_async.demos.backpressure",
    "render_backpressure": "funcpipe_async.demos.backpressure",
    "backpressure_summary": "funcpipe_async.demos.backpressure",
    "redraw_backpressure_png": "funcpipe_async.demos.backpressure",
    "backpressure_demo": "funcpipe_async.demos.backpressure",
    # --- lazy: lesson 06 (funcpipe_async.demos.fairness) ---
    "FairnessControls": "funcpipe_async.demos.fairness",
    "FairnessRun": "funcpipe_async.demos.fairness",
    "FairnessView": "funcpipe_async.demos.fairness",
    "fairness_demo": "funcpipe_async.demos.fairness",
    "fairness_summary": "funcpipe_async.demos.fairness",
    "fairness_table": "funcpipe_async.demos.fairness",
    "normalised_throughput": "funcpipe_async.demos.fairness",
    "plot_fairness": "funcpipe_async.demos.fairness",
    "presentation_rc": "funcpipe_async.demos.fairness",
    "redraw_fairness_png": "funcpipe_async.demos.fairness",
    "render_fairness": "funcpipe_async.demos.fairness",
    "simulate_fairness": "funcpipe_async.demos.fairness",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'funcpipe_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    # results
    "ErrInfo", "Ok", "Err", "Result", "assert_never",
    # plans (descriptions)
    "AsyncPlan", "PlanNode", "async_pure", "async_fail", "async_from_result", "async_bind", "async_map", "async_lift", "async_settle",
    "ReusedCoroutineError", "PlanTypeError",
    "IOPlan", "io_pure", "io_bind", "io_map", "io_delay",
    "async_gather", "async_sequence",
    # retry and timeout policies (descriptions)
    "RetryPolicy", "ConstantBackoff", "ExponentialBackoff", "Backoff", "Jitter", "RetryBudget",
    "backoff_delay", "apply_jitter", "delay_schedule", "schedule_table", "is_retryable",
    "async_timeout", "async_retry",
    "ATTEMPT", "OUTCOME", "WAIT", "TIMEOUT", "CANCELLED", "GIVE_UP",
    # the shell (drivers), virtual time
    "perform_async", "run_sync", "check_monad_laws", "LawReport",
    "check_gather_laws", "check_retry_laws", "check_stream_laws", "check_law", "observe", "Observation",
    "Simulation", "run_virtual", "DeadlockError", "SimulationLimitError", "LeftoverTasksError",
    "VirtualClock",
    # tracing and figures
    "Trace", "Event", "Span", "LogicalClock", "format_table",
    "DESCRIBE", "DRIVE", "START", "FINISH", "DONE",
    "plot_drive_timeline", "drive_timeline_summary", "course_rc",
    "plot_attempt_timeline", "attempt_timeline_summary", "attempt_spans", "AttemptSpan",
    "plot_cumulative_requests", "cumulative_requests_summary",
    # ports and fakes
    "HttpClientCap", "StorageCap", "EmbeddingCap", "FakeHttp", "ScriptedHttp", "FakeStorage", "FakeEmbedder", "ScriptedService", "HANG", "FakePayments",
    "hash_embedding", "encode_record", "check_key", "encode_save",
    # batching by size or time (lesson 09)
    "BatchPolicy", "BatchState", "Flush", "batch_offer", "batch_due", "batch_tick", "batch_flush",
    "batch_schedule", "batch_calls", "BatchCost", "Served", "serve_batches", "pull_schedule", "BatchEmbedder",
    # every input accounted for (lesson 08)
    "account_for", "Ledger", "Outcome", "Step",
    # real adapters and the loopback service (lessons 07-08)
    "HttpxJsonClient", "SqliteStorage", "ThreadedEmbedder", "classify_status", "classify_transport_error",
    "Faults", "LoopbackJsonService",
    # the boundary check
    "Violation", "check_package", "scan_source",
    # notebooks, quizzes, Hypothesis
    "setup", "show_figure", "figure_png", "api_summary", "first_sentence", "environment_report",
    "Question", "quiz_widget", "answer_key_html",
    "COURSE_PROFILE", "load_course_profile", "int_plans", "int_arrows",
    "EffectLog", "ScriptOp", "PlanScript", "ArrowScript", "plan_scripts", "arrow_scripts",
    "StreamScript", "stream_scripts", "bucket_rates", "bucket_bursts", "bucket_arrivals",
    # streams (lesson 02)
    "Stream", "StreamFailed", "stream_of", "stream_from", "stream_count", "merge_streams", "Resource",
    "PULL", "EMIT", "CONSUME", "CLOSE", "plot_stream_events", "stream_events_summary",
    # backpressure (lesson 03)
    "Overflow", "OVERFLOWS", "QueuePolicy", "BoundedQueue", "QueueClosed", "Stage", "QueueStats",
    "PipelineReport", "pipeline", "paced", "LittlesLaw", "littles_law", "depth_series", "ENQUEUE", "DEQUEUE",
    "DROP", "REJECT", "PUT_WAIT", "GET_WAIT", "QUEUE_FULL", "QUEUE_CLOSED", "STRATEGIES", "BackpressureRun",
    "simulate_backpressure", "plot_strategies", "strategies_summary", "plot_unbounded_vs_bounded",
    "unbounded_vs_bounded_summary", "littles_law_summary", "render_backpressure",
    "backpressure_summary", "redraw_backpressure_png", "backpressure_demo", "plot_wait_vs_capacity",
    "wait_vs_capacity_summary",
    # rate limiting and fairness (lesson 06)
    "TokenBucket", "TokenState", "LeakyBucket", "LeakyState", "Decision", "Bucket", "token_bucket_step",
    "leaky_bucket_step", "run_bucket", "max_window_cost", "AsyncRateLimiter", "KeyedLimiter",
    "Request", "Completion", "Tenant", "Fifo", "RoundRobin", "DeficitRoundRobin", "Scheduler", "simulate_schedule",
    "serve_on_loop", "completions_from_trace", "fair_source", "poisson_arrivals", "TenantStats", "tenant_stats", "stats_table",
    "percentile", "jain_index", "max_min_shares", "work_shares",
    "simulate_fairness", "FairnessRun", "fairness_table", "fairness_summary", "normalised_throughput", "plot_fairness",
    "presentation_rc", "FairnessControls", "render_fairness", "redraw_fairness_png", "FairnessView", "fairness_demo",
    # contracts (lesson 07)
    "Clause", "Verdict", "ContractReport", "run_contract", "without_lifetime", "STORAGE_CONTRACT",
]
