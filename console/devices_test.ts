import { assertEquals, assertThrows } from "@std/assert";
import {
  type AudioDeviceInfo,
  DeviceChoiceError,
  formatDeviceTable,
  pickDevice,
} from "./devices.ts";

function dev(index: number, name: string, io: "in" | "out" | "both", def = ""): AudioDeviceInfo {
  return {
    index,
    name,
    hostApi: "ALSA",
    maxInputChannels: io === "out" ? 0 : 2,
    maxOutputChannels: io === "in" ? 0 : 2,
    inputLatencyS: 0.01,
    outputLatencyS: 0.01,
    defaultSampleRate: 48000,
    isDefaultInput: def.includes("in"),
    isDefaultOutput: def.includes("out"),
  };
}

const DEVICES = [
  dev(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", "both"),
  dev(1, "USB Headset: Audio (hw:1,0)", "both"),
  dev(2, "HDMI 0 (hw:0,3)", "out"),
  dev(3, "default", "both", "in out"),
  dev(4, "default mic", "in"),
];

Deno.test("devices: no query means the system's default for that direction", () => {
  assertEquals(pickDevice(DEVICES, "input")?.index, 3);
  assertEquals(pickDevice(DEVICES, "output")?.index, 3);
  assertEquals(pickDevice([dev(0, "x", "out")], "input"), undefined);
});

Deno.test("devices: a number or part of a name, case-insensitive, as lk agent console takes them", () => {
  assertEquals(pickDevice(DEVICES, "input", "1")?.name, "USB Headset: Audio (hw:1,0)");
  assertEquals(pickDevice(DEVICES, "output", "usb")?.index, 1);
  assertEquals(pickDevice(DEVICES, "output", "hdmi")?.index, 2);
  // An exact name wins over the names that contain it.
  assertEquals(pickDevice(DEVICES, "input", "DEFAULT")?.index, 3);
});

Deno.test("devices: a query that matches nothing, the wrong direction or several is one sentence", () => {
  const cases: [string, "input" | "output", string][] = [
    ["9", "input", "--input-device 9: there is no device 9; run console --list-devices"],
    ["2", "input", "--input-device 2: device 2 (HDMI 0 (hw:0,3)) is not a microphone"],
    ["4", "output", "--output-device 4: device 4 (default mic) is not a speaker"],
    ["bluetooth", "output", '--output-device "bluetooth" matches no speaker'],
    ["hw:", "output", '--output-device "hw:" matches 3 speakers (0: HDA'],
  ];
  for (const [q, kind, msg] of cases) {
    assertThrows(() => pickDevice(DEVICES, kind, q), DeviceChoiceError, msg);
  }
});

Deno.test("devices: the --list-devices table aligns its columns and marks the defaults", () => {
  const table = formatDeviceTable(DEVICES.slice(1, 4)).split("\n");
  assertEquals(table, [
    "#  type    name                         host API  default",
    "1  in/out  USB Headset: Audio (hw:1,0)  ALSA",
    "2  out     HDMI 0 (hw:0,3)              ALSA",
    "3  in/out  default                      ALSA      default in, default out",
  ]);
  assertEquals(formatDeviceTable([]), "no audio devices found");
});
