/**
 * Audio devices as the console shows and chooses them: `--list-devices`'
 * table and the `--input-device`/`--output-device` rule (a device number from
 * that table, or part of its name, as `lk agent console` takes them). Pure:
 * the PortAudio side (portaudio.ts) hands over the list.
 *
 * @module
 */

/** One device as PortAudio describes it. */
export interface AudioDeviceInfo {
  /** PortAudio's device index: the number `--list-devices` prints. */
  index: number;
  name: string;
  /** Host API (ALSA, PulseAudio, Core Audio, WASAPI...). */
  hostApi: string;
  maxInputChannels: number;
  maxOutputChannels: number;
  /** Suggested low latencies, in seconds. */
  inputLatencyS: number;
  /** See {@link inputLatencyS}. */
  outputLatencyS: number;
  defaultSampleRate: number;
  isDefaultInput: boolean;
  isDefaultOutput: boolean;
}

/** A device flag that matches no device, or several; a mistake to fix (exit 2). */
export class DeviceChoiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeviceChoiceError";
  }
}

/** `name (host API)`, how the banner names a device. */
export function deviceLabel(d: AudioDeviceInfo): string {
  return d.hostApi ? `${d.name} (${d.hostApi})` : d.name;
}

/**
 * The device for `kind` that `query` names: a device number, else the one
 * device whose name (or `name (host API)`) contains it, case-insensitively;
 * without a query, the system's default. Devices without channels in that
 * direction never match.
 *
 * @throws {DeviceChoiceError} naming the flag, what was asked and what to do.
 */
export function pickDevice(
  devices: readonly AudioDeviceInfo[],
  kind: "input" | "output",
  query?: string,
): AudioDeviceInfo | undefined {
  const usable = devices.filter((d) =>
    kind === "input" ? d.maxInputChannels > 0 : d.maxOutputChannels > 0
  );
  if (query === undefined) {
    return usable.find((d) => kind === "input" ? d.isDefaultInput : d.isDefaultOutput);
  }
  const flag = `--${kind}-device`;
  const what = kind === "input" ? "microphone" : "speaker";
  if (/^\d+$/.test(query)) {
    const byIndex = devices.find((d) => d.index === Number(query));
    if (!byIndex) {
      throw new DeviceChoiceError(
        `${flag} ${query}: there is no device ${query}; run console --list-devices to see the numbers`,
      );
    }
    if (!usable.includes(byIndex)) {
      throw new DeviceChoiceError(
        `${flag} ${query}: device ${query} (${byIndex.name}) is not a ${what}; pick one from console --list-devices`,
      );
    }
    return byIndex;
  }
  const q = query.toLowerCase();
  const hits = usable.filter((d) => deviceLabel(d).toLowerCase().includes(q));
  // An exact name wins over names that merely contain it ("default" vs "default (2)").
  const exact = hits.filter((d) => d.name.toLowerCase() === q);
  if (exact.length === 1) return exact[0];
  if (hits.length === 1) return hits[0];
  if (hits.length === 0) {
    throw new DeviceChoiceError(
      `${flag} "${query}" matches no ${what}; run console --list-devices to see them`,
    );
  }
  const names = hits.slice(0, 4).map((d) => `${d.index}: ${d.name}`).join(", ");
  throw new DeviceChoiceError(
    `${flag} "${query}" matches ${hits.length} ${what}s (${names}${
      hits.length > 4 ? ", ..." : ""
    }); give the device number instead`,
  );
}

/** The `--list-devices` table: number, direction, name, host API, and which are the defaults. */
export function formatDeviceTable(devices: readonly AudioDeviceInfo[]): string {
  if (devices.length === 0) return "no audio devices found";
  const rows = devices.map((d) => {
    const dir = d.maxInputChannels > 0 && d.maxOutputChannels > 0
      ? "in/out"
      : d.maxInputChannels > 0
      ? "in"
      : "out";
    const defaults = [d.isDefaultInput ? "default in" : "", d.isDefaultOutput ? "default out" : ""]
      .filter(Boolean).join(", ");
    return [String(d.index), dir, d.name, d.hostApi, defaults];
  });
  const head = ["#", "type", "name", "host API", "default"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
