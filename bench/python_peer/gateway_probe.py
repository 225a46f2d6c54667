"""Drives each LiveKit Inference client of livekit-agents against a gateway, outside a session.

The second, independent client of the project's loopback gateway (`simulation/`): the test
`simulation/python_client_test.ts` runs this in the bench's Python environment and checks what
both sides saw. The gateway comes from LIVEKIT_INFERENCE_URL and the credentials from
LIVEKIT_API_KEY / LIVEKIT_API_SECRET, exactly as the recipe's models find them. One JSON object
is printed on the last line of stdout.

Steps: the LLM (a plain reply, then a reply offering the recipe's end_session tool), the TTS
(one synthesis), the STT (a tone between silences, 16 kHz), and the cloud end-of-turn detector
(`turn-detector-v1`: the thresholds of its session, one prediction).
"""

import asyncio
import json
import math
import sys

import aiohttp
from livekit import rtc
from livekit.agents import function_tool, inference, stt
from livekit.agents.language import LanguageCode
from livekit.agents.llm import ChatContext

RATE = 16000


async def llm_reply(lm, text, tools=None):
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="You are a helpful agent.")
    ctx.add_message(role="user", content=text)
    said, calls = "", []
    async with lm.chat(chat_ctx=ctx, tools=tools or []) as stream:
        async for chunk in stream:
            if chunk.delta is None:
                continue
            said += chunk.delta.content or ""
            calls += [c.name for c in chunk.delta.tool_calls or []]
    return said, calls


def frames(ms, tone):
    n = RATE // 100
    for i in range(ms // 10):
        data = bytearray()
        for j in range(n):
            v = int(8000 * math.sin(2 * math.pi * 220 * (i * n + j) / RATE)) if tone else 0
            data += v.to_bytes(2, "little", signed=True)
        yield rtc.AudioFrame(bytes(data), RATE, 1, n)


async def main():
    out = {}
    async with aiohttp.ClientSession() as http:
        lm = inference.LLM(model="openai/gpt-4.1-mini")

        @function_tool
        async def end_session():
            """When the user wants to stop talking to you, use this function to close the session."""

        out["llm_text"], _ = await llm_reply(lm, "Hello there!")
        out["llm_bye_text"], out["llm_tool_calls"] = await llm_reply(
            lm, "Okay, thanks. Goodbye!", [end_session]
        )
        await lm.aclose()

        tts = inference.TTS(
            model="cartesia/sonic-3", voice="9626c31c-bec5-4cca-baa8-f8ba9e84c8bc", http_session=http
        )
        samples, rate = 0, None
        async with tts.synthesize("Goodbye!") as synthesis:
            async for ev in synthesis:
                samples += ev.frame.samples_per_channel
                rate = ev.frame.sample_rate
        out["tts"] = {"samples": samples, "sample_rate": rate}
        await tts.aclose()

        engine = inference.STT(model="deepgram/nova-3-general", http_session=http)
        stream = engine.stream()
        for f in [*frames(300, False), *frames(1000, True), *frames(600, False)]:
            stream.push_frame(f)
        finals = []

        async def read():
            async for ev in stream:
                if ev.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                    finals.append(ev.alternatives[0].text)
                    return

        await asyncio.wait_for(read(), 10)
        out["stt_finals"] = finals
        await stream.aclose()
        await engine.aclose()

        detector = inference.TurnDetector(version="v1", http_session=http)
        eot = detector.stream()
        threshold = None
        for _ in range(500):  # the session's thresholds arrive with session_created
            threshold = await eot.unlikely_threshold(LanguageCode("en"))
            if threshold is not None and eot.model == "turn-detector-v1":
                break
            await asyncio.sleep(0.02)
        for f in frames(500, True):
            eot.push_audio(f)
        ev = await asyncio.wait_for(eot.predict(), 5)
        out["eot"] = {
            "model": eot.model,
            "threshold": threshold,
            "probability": ev.end_of_turn_probability,
        }
        await eot.aclose()
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
