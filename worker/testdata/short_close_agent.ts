/**
 * The real agent with a close bound of 3 s instead of 30 s, for the real-room test of the forced
 * ending: only the bound differs, so the forced path that runs is the production one.
 * @module
 */
import { defineAgent } from "@livekit/agents";
import { createEntry } from "../../agent.ts";
import { prewarm, type PrewarmData } from "../../prewarm.ts";
import { guardPrewarm } from "../job_process.ts";
import { withJobProcessSetup } from "../job_metrics.ts";

/** The close bound this agent runs with. */
export const SHORT_CLOSE_MS = 3_000;

export default defineAgent<PrewarmData>({
  prewarm: guardPrewarm(withJobProcessSetup(prewarm)),
  entry: createEntry({ ending: { sessionCloseMs: SHORT_CLOSE_MS } }),
});
