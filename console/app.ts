/**
 * `deno task console`: checks what can be checked before anything starts
 * (arguments, credentials, the files to read and write), then runs the
 * session (`console_run.ts`) and releases everything it started. See
 * {@link runConsoleApp}.
 *
 * @module
 */
import { LogFileError, openLogFile } from "./agent_process.ts";
import { WIRE_SAMPLE_RATE } from "./broker.ts";
import { ConsoleRun, type RunConsoleOptions, type RunFiles } from "./console_run.ts";
import { formatDeviceTable } from "./devices.ts";
import { USAGE_EXIT } from "./exit_codes.ts";
import { ArgError, type ConsoleOptions, HELP, parseConsoleArgs } from "./options.ts";
import { listAudioDevices } from "./portaudio.ts";
import { SessionRecorder } from "./recorder.ts";
import { readWavFile, WavError, WavWriter } from "./wav.ts";

function stderrLine(s: string): void {
  console.error(s);
}

/**
 * Runs `console` without `--connect-addr`: checks the setup, starts the
 * broker and the agent child, runs the conversation in this terminal, prints
 * a summary, and resolves with the process exit code. It never leaves the
 * agent (or anything it forked) running.
 */
export async function runConsoleApp(args: string[], options: RunConsoleOptions): Promise<number> {
  let opts: ConsoleOptions;
  try {
    opts = parseConsoleArgs(args);
  } catch (e) {
    if (e instanceof ArgError) {
      stderrLine(`error: ${e.message}`);
      return USAGE_EXIT;
    }
    throw e;
  }
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  if (opts.listDevices) {
    const list = listAudioDevices();
    if (!list.ok) {
      stderrLine(`error: cannot list audio devices: ${list.reason}`);
      return USAGE_EXIT;
    }
    console.log(formatDeviceTable(list.devices));
    return 0;
  }

  if (!opts.offline) {
    const missing = ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"].filter((n) =>
      !Deno.env.get(n)?.trim()
    );
    if (missing.length > 0) {
      stderrLine(
        `error: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set; ` +
          "copy .env.example to .env and fill it in, or run `deno task console --offline` to try the agent against a local simulation",
      );
      return USAGE_EXIT;
    }
  }

  // Validate files before anything starts, so a typo costs nothing.
  const files: RunFiles = {};
  try {
    if (opts.inputWav) files.inputPcm = await readWavFile(opts.inputWav);
    if (opts.logFile) files.logFile = openLogFile(opts.logFile);
    if (opts.outputWav) files.outputWav = WavWriter.create(opts.outputWav, WIRE_SAMPLE_RATE);
    if (opts.recordDir) files.record = SessionRecorder.create(opts.recordDir, WIRE_SAMPLE_RATE);
  } catch (e) {
    files.logFile?.close();
    files.outputWav?.close();
    if (e instanceof WavError || e instanceof LogFileError) {
      stderrLine(`error: ${e.message}`);
      return USAGE_EXIT;
    }
    throw e;
  }

  const session = new ConsoleRun(opts, options, files);
  try {
    return await session.run();
  } finally {
    await session.cleanup();
    files.logFile?.close();
  }
}
