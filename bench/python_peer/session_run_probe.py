"""The recipe's agent through livekit-agents' own test utility, `AgentSession.run()`: no room, no
console, no audio (an LLM only, as LiveKit's testing docs do it). Imports the recipe module
unchanged and runs "hello" then "goodbye", each bounded by the first argument (seconds).

Prints one JSON object on the last line of stdout: what each run returned, and for a run that
did not finish in time, which tasks of the exit flow were still pending. The gateway and the
credentials come from LIVEKIT_INFERENCE_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.
"""

import asyncio
import json
import os
import sys
import time

import exit_message  # the recipe, unchanged (its folder is the working directory)
from livekit.agents import AgentSession, inference


async def main(bound: float) -> dict:
    out: dict = {}
    async with AgentSession(llm=inference.LLM(model="openai/gpt-4.1-mini")) as session:
        await session.start(exit_message.GoodbyeAgent())
        for said in ("hello", "goodbye"):
            t0 = time.perf_counter()
            try:
                r = await asyncio.wait_for(session.run(user_input=said), bound)
                out[said] = {
                    "returned": True,
                    "ms": (time.perf_counter() - t0) * 1000,
                    "events": [e.type for e in r.events],
                }
            except asyncio.TimeoutError:
                out[said] = {
                    "returned": False,
                    "ms": (time.perf_counter() - t0) * 1000,
                    "pending": sorted(
                        t.get_name()
                        for t in asyncio.all_tasks()
                        if "end_session" in t.get_name() or "on_exit" in t.get_name()
                    ),
                }
                # The session cannot be closed any more (its close would wait on the same
                # tool): report and leave without the context manager's aclose.
                print(json.dumps(out), flush=True)
                os._exit(0)
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 15.0))))
