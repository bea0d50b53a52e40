# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← 00 Module overview](../00_module_overview.ipynb) · [Contents](../00_module_overview.ipynb)
#
# # Glossary of Module 08
#
# An optional reference page for [00 Module overview](../00_module_overview.ipynb): keep it open
# beside the lessons. Nothing here needs to run.

# %% [markdown]
# ## Keep the vocabulary stable
#
# The words below mean the same thing in every lesson, exercise and docstring. The last column
# links the lesson that teaches each one.
#
# | term | meaning | lesson |
# | --- | --- | --- |
# | coroutine | What calling an `async def` function returns: an object holding the function's body, not yet started. It runs when something awaits it or wraps it in a task, and it can be awaited only once. | [01](../01_async_await_as_descriptions.ipynb) |
# | event loop | The scheduler that runs coroutines: it resumes each one until its next `await` on something not ready, then another. One loop runs per thread; `asyncio.run` starts one, and a notebook kernel already has one running. | [01](../01_async_await_as_descriptions.ipynb) |
# | task | An `asyncio.Task`: a coroutine handed to the loop (`asyncio.create_task`, `asyncio.gather`) so it runs concurrently with its creator. A task is alive until it finishes; nobody has to await it, which is how work leaks. | [01](../01_async_await_as_descriptions.ipynb) |
# | semaphore | An `asyncio.Semaphore(n)`: a counter that lets at most `n` coroutines inside an `async with sem:` block at a time; the rest wait at the door. It bounds work running, not tasks alive. | [01](../01_async_await_as_descriptions.ipynb), [03](../03_backpressure.ipynb) |
# | plan (description) | An `AsyncPlan[A]`: a function of no arguments that returns a fresh awaitable of `Result[A, ErrInfo]` each time it is called. Building or composing one (`async_pure`, `async_bind`, `async_map`, `async_lift`) runs nothing. | [01](../01_async_await_as_descriptions.ipynb) |
# | driving | Awaiting a plan's coroutine so its effects happen: `await perform_async(plan)` in async code, `run_sync(plan)` from synchronous code. Driving twice performs the effects twice. | [01](../01_async_await_as_descriptions.ipynb) |
# | shell | The code that drives plans: a script's `main`, a request handler, a notebook cell. In the package it is one folder, `funcpipe_async/shell/`. | [01](../01_async_await_as_descriptions.ipynb) |
# | core | Code that builds and transforms plans and plain values but never drives them, so it can be tested without a network, an event loop or a clock. | [01](../01_async_await_as_descriptions.ipynb) |
# | `Result`, `Ok`, `Err`, `ErrInfo` | A step's outcome as a value: `Ok(value)`, or `Err(ErrInfo(code, message, retryable))` for an expected failure such as a 404 or a timeout. Exceptions are kept for bugs. | [01](../01_async_await_as_descriptions.ipynb) |
# | `IOPlan` | The synchronous twin of a plan: a function of no arguments returning `Result[A, ErrInfo]`. `AsyncPlan` is the same idea, made non-blocking. | [01](../01_async_await_as_descriptions.ipynb) |
# | replayable | Driving the same plan again runs it again from the start, with fresh coroutines, instead of failing or returning a stale answer. | [01](../01_async_await_as_descriptions.ipynb) |
# | capability / port | A `Protocol` naming what the core may ask of the outside world, such as `HttpClientCap.get_json(url)` or `StorageCap.save(key, record)`. The core receives one as an argument and never builds a client itself. | [01](../01_async_await_as_descriptions.ipynb), [07](../07_async_adapters.ipynb) |
# | adapter | A class that implements a port with something concrete (an HTTP client, SQLite) and turns that library's exceptions into `Err(ErrInfo)` at the boundary. A fake such as `FakeHttp` is an adapter with scripted answers and a call log. | [07](../07_async_adapters.ipynb) |
# | async generator | An `async def` that `yield`s: a stream consumed with `async for`, producing each item only when the consumer asks for it. | [02](../02_async_generators.ipynb) |
# | bounded concurrency | A fixed limit on how much runs at once: `async_gather(plans, concurrency=8)` never runs more than 8 plans (or keeps more than 8 tasks alive) and returns results in input order. | [03](../03_backpressure.ipynb) |
# | backpressure | A slow consumer pushing back on a fast producer. When a bounded queue is full, the producer waits (`suspend`), an item is dropped (the newest or the oldest), or the put fails — a choice written down, so memory stays bounded. | [03](../03_backpressure.ipynb) |
# | Little's law | In a steady system, the average number of items inside is L = λ·W (arrival rate times time each item spends inside). 20 items/s that each stay 0.5 s means 10 items in flight on average. | [03](../03_backpressure.ipynb) |
# | timeout, deadline | A timeout limits one attempt; a deadline limits the whole operation, retries included. When either passes, the work in flight is cancelled. | [04](../04_retry_and_timeout_policies.ipynb) |
# | retry policy | Frozen data saying how many attempts to make, how long to wait between them (exponential backoff up to a cap) and which errors to retry (`ErrInfo.retryable`). | [04](../04_retry_and_timeout_policies.ipynb) |
# | retry budget | A limit on retries across many calls, for example at most one retry per ten requests, so a failing service is not buried under a retry storm. | [04](../04_retry_and_timeout_policies.ipynb) |
# | jitter | A random spread added to each backoff delay, so clients that failed together do not retry together. Here it comes from a seeded random generator, so runs are reproducible. | [04](../04_retry_and_timeout_policies.ipynb) |
# | idempotent | Doing it twice has the same effect as doing it once. `FakeStorage.save(key, record)` overwrites the same key, so a retried save is safe; charging a card is not. | [04](../04_retry_and_timeout_policies.ipynb), [07](../07_async_adapters.ipynb) |
# | virtual time | A clock that moves only when every task is waiting, and then jumps straight to the next timer. Minutes of backoff take milliseconds, and every run interleaves the same way. | [05](../05_deterministic_async_testing.ipynb) |
# | token bucket | A rate limiter holding up to `capacity` tokens that refill at `rate` per second; each request spends one and waits (or is refused) when none is left. It allows bursts up to `capacity` and an average of `rate`. | [06](../06_rate_limiting_and_fairness.ipynb) |
# | fairness | How capacity is shared between tenants (users, customers, sources). FIFO serves strictly in arrival order, so one tenant's burst delays everyone; round-robin and weighted fair scheduling such as deficit round robin give each tenant its turn or its weighted share. | [06](../06_rate_limiting_and_fairness.ipynb) |
# | Jain's fairness index | For per-tenant throughputs x₁ … xₙ, J = (Σxᵢ)² / (n·Σxᵢ²). It is 1 when every tenant gets the same and 1/n when one tenant gets everything. | [06](../06_rate_limiting_and_fairness.ipynb) |
# | batching (chunking) | Grouping items so an expensive call handles many at once; a batch is flushed when it reaches its size or its time limit, whichever comes first. | [09](../09_async_chunking.ipynb) |
# | law | An equation every plan must satisfy, checked by Hypothesis on many generated examples. For example, `async_bind(async_pure(x), f)` drives to the same result as `f(x)`. | [01](../01_async_await_as_descriptions.ipynb), [10](../10_async_pipeline_laws.ipynb) |

# %% [markdown]
# ---
#
# [← 00 Module overview](../00_module_overview.ipynb) · [Contents](../00_module_overview.ipynb)
