/**
 * Which sound devices the console opens, and what it says when it cannot:
 * voice mode wants a microphone and a speaker, `--input-wav` only a speaker.
 * Without devices the console carries on (text mode, or the agent's speech
 * timed rather than played), in one line; but a device the user named that
 * cannot be found or opened is a mistake to fix (exit 2), found before the
 * agent starts.
 *
 * @module
 */
import { WIRE_SAMPLE_RATE } from "./broker.ts";
import { DeviceChoiceError, pickDevice } from "./devices.ts";
import { type AudioDevices, listAudioDevices, openAudioDevices } from "./portaudio.ts";

/** The `--input-device` / `--output-device` choice (undefined: the system's default). */
export interface DeviceChoice {
  inputDevice?: string;
  outputDevice?: string;
}

/** What {@link openSound} got. */
export type SoundOutcome =
  /** Everything asked for is open. */
  | { kind: "open"; devices: AudioDevices }
  /** Less than asked for: a speaker without a microphone, or nothing; `note` says so. */
  | { kind: "degraded"; devices?: AudioDevices; note: string }
  /** A named device that cannot be used: one line, exit 2. */
  | { kind: "mistake"; message: string };

function named(choice: DeviceChoice): boolean {
  return choice.inputDevice !== undefined || choice.outputDevice !== undefined;
}

/**
 * Opens a speaker, and a microphone when `mic` is set, as `choice` says.
 * `degraded` notes read as the end of "no microphone found (...)" lines.
 */
export function openSound(mic: boolean, choice: DeviceChoice): SoundOutcome {
  const probe = openAudioDevices({ rate: WIRE_SAMPLE_RATE, input: mic, ...choice });
  if (probe.ok) return { kind: "open", devices: probe.devices };
  if ("deviceError" in probe || named(choice)) {
    return { kind: "mistake", message: namedDeviceMessage(choice, probe.reason) };
  }
  if (!mic) return { kind: "degraded", note: `no audio device found (${probe.reason})` };
  const speaker = openAudioDevices({ rate: WIRE_SAMPLE_RATE, input: false, ...choice });
  if (speaker.ok) {
    return {
      kind: "degraded",
      devices: speaker.devices,
      note: `no microphone found (${probe.reason})`,
    };
  }
  return { kind: "degraded", note: `no audio device found (${probe.reason})` };
}

/**
 * Checks a device choice without opening anything (text mode keeps it for
 * Ctrl+T): undefined when usable, else the one line to print.
 */
export function checkDeviceChoice(choice: DeviceChoice): string | undefined {
  if (!named(choice)) return undefined;
  const list = listAudioDevices();
  if (!list.ok) return namedDeviceMessage(choice, list.reason);
  try {
    if (choice.inputDevice !== undefined) pickDevice(list.devices, "input", choice.inputDevice);
    if (choice.outputDevice !== undefined) pickDevice(list.devices, "output", choice.outputDevice);
  } catch (e) {
    if (e instanceof DeviceChoiceError) return e.message;
    throw e;
  }
  return undefined;
}

function namedDeviceMessage(choice: DeviceChoice, reason: string): string {
  // A choice error already names the flag and what to do.
  if (reason.startsWith("--")) return reason;
  const flag = choice.inputDevice !== undefined ? "--input-device" : "--output-device";
  return `${flag} cannot be used: ${reason}`;
}
