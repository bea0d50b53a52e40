"""The public namespace as one table: ``tools/make_namespace.py`` writes ``__init__.py`` from it.

Each row is ``(module, load, names)``: the module under ``funcpipe_async`` that defines the
names, whether ``import funcpipe_async`` imports it at once (``EAGER``) or on first use of
one of its names (``LAZY`` — for what needs matplotlib, Hypothesis, ipywidgets, httpx or
sqlite3), and the names, in the order ``__all__`` lists them.  A comment row starts a group
of ``__all__``.  To export a name: add it here, run ``python tools/make_namespace.py``, and
commit both files; ``tests/test_namespace.py`` (and ``make_namespace.py --check``) fails
when they drift.  Nothing imports this module at run time.
"""

from __future__ import annotations

from typing import Literal

EAGER: Literal["eager"] = "eager"
LAZY: Literal["lazy"] = "lazy"

Row = tuple[str, Literal["eager", "lazy"], tuple[str, ...]] | str
"""A module row, or a group heading (a plain string: its comment in ``__all__``)."""

EXPORTS: tuple[Row, ...] = (
    "results",
    ("result", EAGER, ("ErrInfo", "Ok", "Err", "Result", "assert_never")),
    "plans (descriptions)",
    ("plan", EAGER, (
        "AsyncPlan", "PlanNode", "async_pure", "async_fail", "async_from_result", "async_bind", "async_map",
        "async_lift", "async_settle", "ReusedCoroutineError", "PlanTypeError"
    )),
    ("io_plan", EAGER, ("IOPlan", "io_pure", "io_bind", "io_map", "io_delay")),
    ("gather", EAGER, ("async_gather", "async_sequence")),
    "retry and timeout policies (descriptions)",
    ("policies", EAGER, (
        "RetryPolicy", "ConstantBackoff", "ExponentialBackoff", "Backoff", "Jitter", "RetryBudget",
        "backoff_delay", "apply_jitter", "delay_schedule", "schedule_table", "is_retryable",
        "async_timeout", "async_retry", "ATTEMPT", "OUTCOME", "WAIT", "TIMEOUT", "CANCELLED", "GIVE_UP"
    )),
    "the shell (drivers), virtual time",
    ("shell.runtime", EAGER, ("perform_async", "run_sync")),
    ("shell.laws", LAZY, (
        "check_monad_laws", "LawReport", "check_gather_laws", "check_retry_laws", "check_stream_laws",
        "check_law", "observe", "Observation"
    )),
    ("shell.virtual", EAGER, (
        "Simulation", "run_virtual", "DeadlockError", "SimulationLimitError", "LeftoverTasksError"
    )),
    ("clock", EAGER, ("VirtualClock",)),
    "tracing and figures",
    ("trace", EAGER, (
        "Trace", "Event", "Span", "LogicalClock", "format_table", "DESCRIBE", "DRIVE", "START", "FINISH",
        "DONE"
    )),
    ("plots", LAZY, (
        "plot_drive_timeline", "drive_timeline_summary", "course_rc", "plot_attempt_timeline",
        "attempt_timeline_summary", "attempt_spans", "AttemptSpan", "plot_cumulative_requests",
        "cumulative_requests_summary"
    )),
    "ports and fakes",
    ("ports", EAGER, (
        "HttpClientCap", "StorageCap", "EmbeddingCap", "encode_record", "check_key", "encode_save"
    )),
    ("fakes", EAGER, (
        "FakeHttp", "ScriptedHttp", "FakeStorage", "FakeEmbedder", "ScriptedService", "HANG",
        "FakePayments", "hash_embedding"
    )),
    "batching by size or time (lesson 09)",
    ("chunking", EAGER, (
        "BatchPolicy", "BatchState", "Flush", "batch_offer", "batch_due", "batch_tick", "batch_flush",
        "batch_schedule", "batch_calls", "BatchCost", "Served", "serve_batches", "pull_schedule"
    )),
    ("fakes", EAGER, ("BatchEmbedder",)),
    "every input accounted for (lesson 08)",
    ("ledger", EAGER, ("account_for", "Ledger", "Outcome", "Step")),
    "real adapters and the loopback service (lessons 07-08)",
    ("adapters", LAZY, (
        "HttpxJsonClient", "SqliteStorage", "ThreadedEmbedder", "classify_status",
        "classify_transport_error"
    )),
    ("loopback", LAZY, ("Faults", "LoopbackJsonService")),
    "the boundary check",
    ("boundary", LAZY, ("Violation", "check_package", "scan_source")),
    "notebooks, quizzes, Hypothesis",
    ("notebook", LAZY, (
        "setup", "show_figure", "figure_png", "api_summary", "first_sentence", "environment_report"
    )),
    ("quiz", LAZY, ("Question", "quiz_widget", "answer_key_html", "lesson_quiz", "lesson_answer_key", "load_quiz")),
    ("testing", LAZY, (
        "COURSE_PROFILE", "load_course_profile", "int_plans", "int_arrows", "EffectLog", "ScriptOp",
        "PlanScript", "ArrowScript", "plan_scripts", "arrow_scripts", "StreamScript", "stream_scripts",
        "bucket_rates", "bucket_bursts", "bucket_arrivals"
    )),
    "streams (lesson 02)",
    ("streams", EAGER, (
        "Stream", "StreamFailed", "stream_of", "stream_from", "stream_count", "merge_streams", "Resource",
        "PULL", "EMIT", "CONSUME", "CLOSE"
    )),
    ("plots", LAZY, ("plot_stream_events", "stream_events_summary")),
    "bounded queues and pipelines (lesson 03)",
    ("queues", EAGER, (
        "Overflow", "OVERFLOWS", "QueuePolicy", "BoundedQueue", "QueueClosed", "QueueStats", "ENQUEUE",
        "DEQUEUE", "DROP", "REJECT", "PUT_WAIT", "GET_WAIT", "QUEUE_FULL", "QUEUE_CLOSED"
    )),
    ("pipelines", EAGER, ("Stage", "PipelineReport", "pipeline", "paced")),
    ("queue_measures", EAGER, ("LittlesLaw", "littles_law", "depth_series")),
    ("demos.backpressure", LAZY, (
        "STRATEGIES", "BackpressureRun", "simulate_backpressure", "plot_strategies", "strategies_summary",
        "plot_unbounded_vs_bounded", "unbounded_vs_bounded_summary", "littles_law_summary",
        "render_backpressure", "backpressure_summary", "redraw_backpressure_png", "backpressure_demo"
    )),
    ("plots", LAZY, ("plot_wait_vs_capacity", "wait_vs_capacity_summary")),
    "rate limiting and fairness (lesson 06)",
    ("ratelimit", EAGER, (
        "TokenBucket", "TokenState", "LeakyBucket", "LeakyState", "Decision", "Bucket", "token_bucket_step",
        "leaky_bucket_step", "run_bucket", "max_window_cost",
    )),
    ("limiters", EAGER, ("AsyncRateLimiter", "KeyedLimiter")),
    ("fairness", EAGER, (
        "Request", "Tenant", "Fifo", "RoundRobin", "DeficitRoundRobin", "Scheduler",
        "simulate_schedule", "serve_on_loop", "completions_from_trace", "fair_source", "poisson_arrivals",
    )),
    ("fairness_measures", EAGER, (
        "Completion", "TenantStats", "tenant_stats", "stats_table", "percentile", "jain_index", "max_min_shares",
        "work_shares",
    )),
    ("demos.fairness", LAZY, (
        "simulate_fairness", "FairnessRun", "fairness_table", "fairness_summary", "normalised_throughput",
        "plot_fairness", "presentation_rc", "FairnessControls", "render_fairness", "redraw_fairness_png",
        "FairnessView", "fairness_demo"
    )),
    "contracts (lesson 07)",
    ("contracts", EAGER, (
        "Clause", "Verdict", "ContractReport", "run_contract", "without_lifetime", "STORAGE_CONTRACT"
    )),
)
