// The one parser of an evaluation's settings: flags' text and JSON's numbers give the same
// settings, the same refusals, each named as its front end writes it.
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { DEFAULT_EVAL_SETTINGS } from "../../gpu/eval/evaluate.ts";
import { parseEvalSettings } from "../../gpu/eval/settings.ts";

const limits = { maxPerClass: 64 };

Deno.test("eval settings: text and numbers alike, defaults kept, limits and names", () => {
  assertEquals(parseEvalSettings({}, limits), DEFAULT_EVAL_SETTINGS);
  const fromJson = parseEvalSettings(
    { per_class: 8, per_pair: 0, guidances: [1, 2.5], guidance: 2, steps: 4, seed: 9 },
    limits,
  );
  const fromText = parseEvalSettings(
    { per_class: "8", per_pair: "0", guidances: "1, 2.5", guidance: "2", steps: "4", seed: "9" },
    limits,
  );
  assertEquals(fromJson, fromText);
  assertEquals(fromJson, {
    ...DEFAULT_EVAL_SETTINGS,
    perClass: 8,
    perPair: 0,
    guidances: [1, 2.5],
    mainGuidance: 2,
    steps: 4,
    seed: 9,
  });
  const other = { ...DEFAULT_EVAL_SETTINGS, perClass: 16 };
  assertEquals(parseEvalSettings({}, limits, other).perClass, 16);
  throws(() => parseEvalSettings({ per_class: 65 }, limits), /per_class must be in \[2, 64\]/);
  throws(
    () => parseEvalSettings({ per_class: 65 }, limits, undefined, (k) => `--${k}`),
    /--per_class must be in/,
  );
  throws(() => parseEvalSettings({ guidances: [] }, limits), /guidances must be a list/);
  throws(() => parseEvalSettings({ guidances: {} }, limits), /guidances must be a list/);
  throws(() => parseEvalSettings({ guidances: "1,,2" }, limits), /guidances must be a number/);
  throws(() => parseEvalSettings({ guidances: [21] }, limits), /guidances must be in \[0, 20\]/);
  throws(() => parseEvalSettings({ seed: -1 }, limits), /seed must be in/);
});
