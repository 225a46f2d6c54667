"""Diagnostics for the bench's Python peer; changes nothing the recipe does.

Python imports `sitecustomize` at start-up when it is on `PYTHONPATH`; the bench puts this
folder there only when it wants a stuck peer to say where it is stuck. On SIGUSR2 every pending
asyncio task of the process (any thread's loop) is written to stderr as one JSON line,
`{"task_dump": [{"task": name, "awaits": ["file:line function", ...]}, ...]}`, the await chain
followed through `cr_await` so the innermost wait is last.
"""

import asyncio
import gc
import json
import signal
import sys


def _chain(coro):
    out = []
    for _ in range(64):
        code = getattr(coro, "cr_code", None) or getattr(coro, "ag_code", None)
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if code is None:
            if coro is not None:
                out.append(type(coro).__name__)
            break
        where = code.co_filename.split("site-packages/")[-1]
        out.append(f"{where}:{frame.f_lineno if frame else '?'} {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return out


def _dump(_sig, _frame):
    tasks = [
        {"task": o.get_name(), "awaits": _chain(o.get_coro())}
        for o in gc.get_objects()
        if isinstance(o, asyncio.Task) and not o.done()
    ]
    sys.stderr.write(json.dumps({"task_dump": tasks}) + "\n")
    sys.stderr.flush()


signal.signal(signal.SIGUSR2, _dump)
