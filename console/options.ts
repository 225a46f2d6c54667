/**
 * The `console` command line: its flags, their checks, and its `--help`.
 * Pure (argv in, options or an {@link ArgError} out), so every rule is
 * unit-tested without starting anything.
 *
 * @module
 */
import { AGENT_ENV_VARS, formatEnvVars } from "../core/env_vars.ts";
import { unknownOptionMessage } from "../core/unknown_option.ts";

/** Parsed `console` flags. */
export interface ConsoleOptions {
  text: boolean;
  silent: boolean;
  offline: boolean;
  inputWav?: string;
  outputWav?: string;
  /** `--record DIR`: both sides of the session as WAV files in DIR. */
  recordDir?: string;
  /** `--input-device`: a PortAudio device index or part of its name. */
  inputDevice?: string;
  /** `--output-device`: a PortAudio device index or part of its name. */
  outputDevice?: string;
  /** `--list-devices`: print the audio devices and exit. */
  listDevices: boolean;
  port: number;
  connectTimeoutS: number;
  logFile?: string;
  logLevel: string;
  verbose: boolean;
  bargeIn: boolean;
  devices: boolean;
  help: boolean;
}

/** A bad command line; printed as one line. */
export class ArgError extends Error {}

/** Every option `console` takes (`--connect-addr`, `--record`: also the agent's half alone). */
export const CONSOLE_FLAGS: readonly string[] = [
  "--offline",
  "--text",
  "--silent",
  "--input-wav",
  "--output-wav",
  "--record",
  "--list-devices",
  "--input-device",
  "--output-device",
  "--no-devices",
  "--barge-in",
  "--port",
  "--connect-timeout",
  "--log-file",
  "--log-level",
  "--verbose",
  "--help",
  "--connect-addr",
];

/** The help text of `console`. */
export const HELP = `Usage: deno task console [options]

Talk to the Exit Message agent from this terminal. Starts the agent as a child
process and acts as its console broker (what \`lk agent console\` does).

Options:
  --offline              Run against a local simulation of LiveKit Inference
                         (no account, scripted replies, synthetic voice)
  --text                 Type to the agent instead of speaking (Ctrl+T switches)
  --silent               With --text: the agent skips speech synthesis (lk's text mode)
  --input-wav FILE       Replay a WAV recording as the microphone, one user turn per
                         utterance (see console/README.md); the session ends after it
  --output-wav FILE      Record everything the agent said to a 48 kHz WAV
  --record DIR           Record both sides, DIR/user.wav and DIR/agent.wav, on one timeline
  --list-devices         List the audio devices and exit
  --input-device DEV     Microphone: a device number from --list-devices or part of its name
  --output-device DEV    Speaker: a device number from --list-devices or part of its name
  --no-devices           Never open speakers/microphone
  --barge-in             Keep the microphone open while the agent speaks (headsets)
  --port N               Broker port on 127.0.0.1 (default: a free one)
  --connect-timeout S    Seconds the agent may take to start and connect (default 60)
  --log-file FILE        Append the agent's logs to FILE
  --log-level LEVEL      Agent log level: trace, debug, info, warn, error, fatal
                         (default debug)
  --verbose              Show the agent's log lines in the terminal
  -h, --help             Show this help

Keys: voice mode: m mutes the microphone, Ctrl+T switches to typing, ? lists the
keys; text mode: type a line and press Enter, Ctrl+T switches back to voice.
Ctrl+C ends the session (the agent says goodbye); Ctrl+C again quits at once.

Environment (.env in the working directory is read too; set variables win):
${
  formatEnvVars([
    ...AGENT_ENV_VARS.map((v) =>
      v.name.startsWith("LIVEKIT_API_KEY") ? { ...v, help: `${v.help} (not with --offline)` } : v
    ),
    {
      name: "PORTAUDIO_LIB",
      help: "path of the PortAudio library to load (default: the system's)",
    },
    { name: "NO_COLOR", help: "no colours on a terminal" },
  ])
}

Exit status: 0 when the session ended as you or the agent asked (end_session,
Ctrl+C, the end of the input), 1 when it could not go on (the agent died or
never connected; its last log lines are shown), 2 for a mistake to fix (one
line on stderr), 3 when the models failed MAX_FAILED_TURNS turns in a row,
130 after a second Ctrl+C. See console/README.md.

The agent's half alone, for an external broker such as \`lk agent console\`:
  deno run -A main.ts console --connect-addr HOST:PORT [--record]`;

/** Parses `console` arguments (without the leading `console`). */
export function parseConsoleArgs(args: string[]): ConsoleOptions {
  const o: ConsoleOptions = {
    text: false,
    silent: false,
    offline: false,
    listDevices: false,
    port: 0,
    connectTimeoutS: 60,
    logLevel: "debug",
    verbose: false,
    bargeIn: false,
    devices: true,
    help: false,
  };
  const value = (i: number, flag: string): string => {
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new ArgError(`${flag} needs a value`);
    if (v.trim() === "") throw new ArgError(`${flag} is empty; give it a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let inline: string | undefined;
    if (a.startsWith("--") && a.includes("=")) {
      inline = a.slice(a.indexOf("=") + 1);
      a = a.slice(0, a.indexOf("="));
      args = [...args.slice(0, i), a, inline, ...args.slice(i + 1)];
    }
    switch (a) {
      case "--text":
        o.text = true;
        break;
      case "--silent":
        o.silent = true;
        break;
      case "--offline":
        o.offline = true;
        break;
      case "--verbose":
        o.verbose = true;
        break;
      case "--barge-in":
        o.bargeIn = true;
        break;
      case "--no-devices":
        o.devices = false;
        break;
      case "--list-devices":
        o.listDevices = true;
        break;
      case "-h":
      case "--help":
        o.help = true;
        break;
      case "--input-wav":
        o.inputWav = value(i++, a);
        break;
      case "--output-wav":
        o.outputWav = value(i++, a);
        break;
      case "--record":
        o.recordDir = value(i++, a);
        break;
      case "--input-device":
        o.inputDevice = value(i++, a).trim();
        break;
      case "--output-device":
        o.outputDevice = value(i++, a).trim();
        break;
      case "--log-file":
        o.logFile = value(i++, a);
        break;
      case "--log-level": {
        const v = value(i++, a);
        if (!["trace", "debug", "info", "warn", "error", "fatal"].includes(v)) {
          throw new ArgError(
            `--log-level ${v} is not valid; use trace, debug, info, warn, error or fatal`,
          );
        }
        o.logLevel = v;
        break;
      }
      case "--port": {
        const v = value(i++, a);
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > 65535) {
          throw new ArgError(`--port ${v} is not valid; use a port from 1 to 65535`);
        }
        o.port = n;
        break;
      }
      case "--connect-timeout": {
        const v = value(i++, a);
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0 || n > 3600) {
          throw new ArgError(`--connect-timeout ${v} is not valid; use seconds from 1 to 3600`);
        }
        o.connectTimeoutS = n;
        break;
      }
      default:
        throw new ArgError(
          a.startsWith("-")
            ? unknownOptionMessage(a, "console", CONSOLE_FLAGS)
            : `unexpected argument ${a} (see deno task console --help)`,
        );
    }
  }
  if (o.text && o.inputWav) {
    throw new ArgError("--text and --input-wav exclude each other; pick typed or recorded input");
  }
  if (o.silent && !o.text) throw new ArgError("--silent only applies with --text");
  if (o.silent && o.outputWav) {
    throw new ArgError("--silent disables speech, so --output-wav would stay empty; drop one");
  }
  if (o.silent && o.recordDir) {
    throw new ArgError("--silent with --text leaves no audio for --record to keep; drop one");
  }
  if (!o.devices && (o.inputDevice || o.outputDevice)) {
    throw new ArgError("--no-devices and --input-device/--output-device exclude each other");
  }
  return o;
}
