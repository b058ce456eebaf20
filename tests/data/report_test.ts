import { classCountsFor } from "../../data/generate.ts";
import { runDataCommand } from "../../data/report.ts";
import { assert, assertEquals, assertRejectsInputError } from "./helpers.ts";

const SAMPLE = "/work/shared/data/dlai-sprites-sample/";

Deno.test("report: the bundled set by default, as JSON and as a table", async () => {
  const json = JSON.parse(await runDataCommand({ json: true }));
  assertEquals(json.total, 4470);
  assertEquals(json.classes.map((c: { before: number }) => c.before), classCountsFor(4470));
  assertEquals(json.classes.map((c: { name: string }) => c.name), [
    "human",
    "non-human",
    "food",
    "spell",
    "side-facing",
  ]);
  for (const c of json.classes) assertEquals(c.after, c.before - c.removed, c.name);
  assertEquals(json.removed + json.kept, json.total);
  assertEquals(json.classes[1].removed, 1500, "non-human removed");
  assertEquals(json.rule, { minWhitePixels: 26, requireWhiteCorners: true });
  const text = await runDataCommand({ json: false });
  assert(/class\s+before\s+removed\s+after/.test(text), text);
  assert(new RegExp(`total\\s+4470\\s+${json.removed}\\s+${json.kept}`).test(text), text);
  assert(/1 non-human\s+1620\s+1500\s+120/.test(text), text);
});

Deno.test("report: given files and a white threshold", async () => {
  const files = {
    sprites: SAMPLE + "sprites_sample_90_16x16.npy",
    labels: SAMPLE + "sprite_labels_sample_90.npy",
  };
  const json = JSON.parse(await runDataCommand({ ...files, json: true }));
  assertEquals([json.total, json.removed, json.classes[1].after], [90, 36, 54]);
  // Threshold 0 leaves the corner rule alone (on this sample it finds the same 36); at 256 every
  // sprite with any non-white pixel goes.
  const cornersOnly = JSON.parse(await runDataCommand({ ...files, json: true, whiteThreshold: 0 }));
  assertEquals([cornersOnly.rule.minWhitePixels, cornersOnly.removed], [0, 36]);
  const all = JSON.parse(await runDataCommand({ ...files, json: true, whiteThreshold: 256 }));
  assertEquals([all.rule.minWhitePixels, all.removed], [256, 90]);
  await assertRejectsInputError(
    () => runDataCommand({ sprites: files.sprites, json: false }),
    /both --sprites and --labels/,
  );
});
