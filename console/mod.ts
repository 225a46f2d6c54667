/**
 * The built-in console of exit-message: `deno task console` (and `console`
 * on a compiled binary) without `--connect-addr`. It is the broker half of
 * agents-js's console protocol plus a terminal UI; the agent runs in a child
 * process that dials it, exactly as it would dial `lk console`.
 *
 * @module
 */
export { runConsoleApp } from "./app.ts";
export { type RunConsoleOptions } from "./console_run.ts";
export { FAILURE_EXIT, INTERRUPT_EXIT, MODEL_FAILURE_EXIT, USAGE_EXIT } from "./exit_codes.ts";
export { ArgError, type ConsoleOptions, HELP, parseConsoleArgs } from "./options.ts";
export {
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  FrameTooLargeError,
  HEADER_BYTES,
  MAX_FRAME_BYTES,
} from "./framing.ts";
export {
  type BrokerHandlers,
  BrokerListenError,
  BrokerSession,
  type BrokerStats,
  frameToMono48k,
  listenBroker,
  MIC_FRAME_SAMPLES,
  WIRE_SAMPLE_RATE,
} from "./broker.ts";
export { type OutputDevice, Playout, type PlayoutOptions } from "./playout.ts";
export { agentCommand, AgentProcess, LogRing } from "./agent_process.ts";
export {
  decodeWav,
  encodeWav,
  type MonoPcm,
  readWavFile,
  resampleLinear,
  rms,
  WavError,
  WavWriter,
} from "./wav.ts";
export { HeardView } from "./heard.ts";
export { EchoGate } from "./mic.ts";
export { MicPath } from "./mic_path.ts";
export { findUtterances, Replay, ReplaySource, TurnGate } from "./replay.ts";
export { type AudioProbe, listAudioDevices, openAudioDevices } from "./portaudio.ts";
export { type AudioDeviceInfo, formatDeviceTable, pickDevice } from "./devices.ts";
export { LatencyLog, type TurnLatency } from "./latency.ts";
export { SessionRecorder } from "./recorder.ts";
export { printable } from "./sanitize.ts";
