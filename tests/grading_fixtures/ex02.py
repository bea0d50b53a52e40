"""Wrong answers for exercise 02, each replacing one task cell of the solution.

``MUTANTS[task_id]`` maps a name to the replacement cell: each is a mistake a student could
plausibly make, and must lose exactly that task.  ``FEEDBACK`` holds a substring of the
feedback the grader must give for each.
"""

from __future__ import annotations

T1 = "# Task 1 — Slide a window over a stream\n"
T2 = "# Task 2 — Own a resource, release it always\n"
T3 = "# Task 3 — Pull exactly what you need\n"


def _windows(
    loop: str, *, check: bool = True, window_outside: bool = False, condition: str = "len(window) == n"
) -> str:
    guard = '    if n < 1:\n        raise ValueError("n must be at least 1")\n' if check else ""
    outside = "    window = deque(maxlen=n)\n" if window_outside else ""
    inside = "" if window_outside else "        window = deque(maxlen=n)\n"
    return (
        T1
        + f"""
def windows(stream, n):
{guard}{outside}    async def run():
{inside}{loop.format(condition=condition)}
    return stream_from(run)
"""
    )


_CLOSED = """        async with aclosing(stream.iterate()) as items:
            async for x in items:
                window.append(x)
                if {condition}:
                    yield tuple(window)
"""

_UNCLOSED = """        async for x in stream.iterate():
            window.append(x)
            if {condition}:
                yield tuple(window)
"""

_EAGER = """        async with aclosing(stream.iterate()) as items:
            xs = [x async for x in items]
        for i in range(len(xs) - n + 1):
            yield tuple(xs[i:i + n])
"""


def _read_log(body: str, build: str = "stream_from(lambda: _lines_of(resource, lines))") -> str:
    return (
        T2
        + body
        + f"""

def read_log(resource, lines):
    return {build}
"""
    )


_NO_FINALLY = """
async def _lines_of(resource, lines):
    resource.acquire()
    for line in lines:
        await asyncio.sleep(1)
        yield line
    resource.release()
"""

_GOOD_SOURCE = """
async def _lines_of(resource, lines):
    resource.acquire()
    try:
        for line in lines:
            await asyncio.sleep(1)
            yield line
    finally:
        resource.release()
"""

_EXCEPT_EXCEPTION = """
async def _lines_of(resource, lines):
    resource.acquire()
    try:
        for line in lines:
            await asyncio.sleep(1)
            yield line
    except Exception:
        resource.release()
        raise
    resource.release()
"""

MUTANTS: dict[str, dict[str, str]] = {
    "t1": {
        "drops the last window": T1
        + """
def windows(stream, n):
    if n < 1:
        raise ValueError("n must be at least 1")
    async def run():
        window = deque(maxlen=n)
        async with aclosing(stream.iterate()) as items:
            async for x in items:
                if len(window) == n:          # yields the window *before* adding x
                    yield tuple(window)
                window.append(x)
    return stream_from(run)
""",
        "window shared between runs": _windows(_CLOSED, window_outside=True),
        "collects the stream first": _windows(_EAGER),
        "never closes its source": _windows(_UNCLOSED),
        "accepts n = 0": _windows(_CLOSED, check=False),
    },
    "t2": {
        "no finally": _read_log(_NO_FINALLY),
        "except Exception only": _read_log(_EXCEPT_EXCEPTION),
        "acquires when built": T2
        + """
async def _lines_of(resource, lines):
    try:
        for line in lines:
            await asyncio.sleep(1)
            yield line
    finally:
        resource.release()

def read_log(resource, lines):
    resource.acquire()
    return stream_from(lambda: _lines_of(resource, lines))
""",
        "one generator for every run": _read_log(
            _GOOD_SOURCE, build="(lambda gen: stream_from(lambda: gen))(_lines_of(resource, lines))"
        ),
        "no wait": _read_log(_GOOD_SOURCE.replace("        await asyncio.sleep(1)\n", "")),
    },
    "t3": {
        "collects everything": T3
        + """
def first_alert(readings, threshold):
    def answer(found):
        alerts = [r for r in found if r > threshold]
        return async_pure(alerts[0]) if alerts else async_fail(ErrInfo("NO_ALERT", "none"))
    return async_bind(readings.to_list(), answer)
""",
        "at or over the threshold": T3
        + """
def first_alert(readings, threshold):
    def answer(found):
        return async_pure(found[0]) if found else async_fail(ErrInfo("NO_ALERT", "none"))
    return async_bind(readings.filter(lambda r: r >= threshold).take(1).to_list(), answer)
""",
        "None when there is no alert": T3
        + """
def first_alert(readings, threshold):
    return async_bind(readings.filter(lambda r: r > threshold).take(1).to_list(),
                      lambda found: async_pure(found[0] if found else None))
""",
    },
}


# What the grader must say for each mutant (a substring of its feedback).
FEEDBACK: dict[tuple[str, str], str] = {
    ("t1", "drops the last window"): "the windows are every run of",
    ("t1", "window shared between runs"): "every run starts with an empty window",
    ("t1", "collects the stream first"): "never collect the stream first",
    ("t1", "never closes its source"): "so that closing windows closes its source",
    ("t1", "accepts n = 0"): "raise ValueError when n < 1",
    ("t2", "no finally"): "Release it in a `finally` around the loop",
    ("t2", "except Exception only"): "Release it in a `finally` around the loop",
    ("t2", "acquires when built"): "acquire inside the async generator, when a run starts",
    ("t2", "one generator for every run"): "never one generator object made in advance",
    ("t2", "no wait"): "reading is slow",
    ("t3", "collects everything"): "never collect the whole stream",
    ("t3", "at or over the threshold"): "*strictly* over the threshold",
    ("t3", "None when there is no alert"): "not a value",
}
