"""Diagnostics for the bench's Python peer; changes nothing the recipe does.

Python imports `sitecustomize` at start-up when it is on `PYTHONPATH`; the bench puts this
folder there only when it wants a stuck peer to say where it is stuck. On SIGUSR2 every pending
asyncio task of the process (any thread's loop) is written to stderr as one JSON line,
`{"task_dump": [{"task": name, "awaits": ["file:line function", ...]}, ...]}`, the await chain
followed through `cr_await` so the innermost wait is last.

One opt-in change, for the bench's concurrent calls only: with `EXIT_MESSAGE_BENCH_MAX_JOBS=N`
set, livekit-agents' default worker load (the machine's CPU use, full at 0.7) becomes active
jobs / N, as this project's `--max-jobs N` does, so the calls of a run are not turned away
because the machine the callers and the server share is busy. The recipe has no option for it.
"""

import asyncio
import gc
import importlib.abc
import importlib.util
import json
import os
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


class _LoadInCalls(importlib.abc.MetaPathFinder):
    """Patches `livekit.agents.worker` right after it is first imported."""

    def __init__(self, max_jobs):
        self.max_jobs = max_jobs

    def find_spec(self, name, path, target=None):
        if name != "livekit.agents.worker":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module
        max_jobs = self.max_jobs

        def patched(module):
            exec_module(module)
            module._DefaultLoadCalc.get_load = classmethod(
                lambda cls, worker: len(worker.active_jobs) / max_jobs
            )

        spec.loader.exec_module = patched
        return spec


if os.environ.get("EXIT_MESSAGE_BENCH_MAX_JOBS"):
    sys.meta_path.insert(0, _LoadInCalls(int(os.environ["EXIT_MESSAGE_BENCH_MAX_JOBS"])))
