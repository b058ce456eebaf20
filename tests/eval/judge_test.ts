// The judge: trained by the engine on a toy set it must get right, measured on its held-out split,
// its files round-trip exactly, and its input conversion flips and shifts as documented.
import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import {
  classifierInput,
  datasetFingerprint,
  DEFAULT_JUDGE_RECIPE,
  JUDGE_FILES,
  judgeFiles,
  judgeFromFiles,
  JudgeRunner,
  judgeSplit,
  trainJudge,
} from "../../gpu/eval/judge.ts";
import { classIndices } from "../../gpu/train/dataset.ts";
import { getGpu } from "../util.ts";
import { toySprites } from "./toy_sprites.ts";

Deno.test("judge: learns a separable toy set; held-out accuracy per class; files round-trip", async () => {
  const gpu = await getGpu();
  const ds = toySprites(40);
  const recipe = { ...DEFAULT_JUDGE_RECIPE, epochs: 20, batch: 32 };
  const losses: number[] = [];
  const judge = await trainJudge(gpu, ds, recipe, (p) => losses.push(p.loss));
  ok(losses.length === 20 && losses[19] < losses[0], `losses ${losses}`);
  const split = judgeSplit(ds, recipe);
  assertEquals(judge.heldOut.perClass.map((c) => c.count), [8, 8, 8, 8]);
  ok(judge.heldOut.accuracy === 1, JSON.stringify(judge.heldOut));
  assertEquals(judge.data, { fingerprint: datasetFingerprint(ds), count: 160 });

  const back = judgeFromFiles("mem", judgeFiles(judge));
  assertEquals(back, judge);
  const runner = await JudgeRunner.create(gpu, back, 16); // a batch that splits the set
  const { predicted, features } = await runner.run(ds.images, split.heldOut);
  const truth = Array.from(split.heldOut, (i) => classIndices(ds)[i]);
  assertEquals(Array.from(predicted), truth);
  ok(features.length === 32 * judge.options.features && features.every(Number.isFinite));

  const files = judgeFiles(judge);
  files.delete(JUDGE_FILES.weights);
  throws(() => judgeFromFiles("dir", files), /dir: classifier.safetensors is missing/);
  const wrong = judgeFiles({ ...judge, options: { ...judge.options, features: 8 } });
  wrong.set(JUDGE_FILES.weights, judgeFiles(judge).get(JUDGE_FILES.weights)!);
  throws(() => judgeFromFiles("dir", wrong), /classifier.safetensors: parameter fc.weight/);
});

Deno.test("judge: input in [-1, 1], NCHW; flips mirror x; shifts bring in white", () => {
  const size = 4;
  const img = new Uint8Array(size * size * 3).fill(255);
  img.set([0, 0, 0], (1 * size + 0) * 3); // a black pixel at (x 0, y 1)
  const out = new Float32Array(3 * size * size);
  const at = (c: number, x: number, y: number) => out[c * 16 + y * size + x];
  classifierInput(img, [0], size, out);
  ok(at(0, 0, 1) === -1 && at(2, 0, 1) === -1 && at(1, 3, 3) === 1);
  classifierInput(img, [0], size, out, () => ({ flip: true, dx: 0, dy: 0 }));
  ok(at(0, 3, 1) === -1 && at(0, 0, 1) === 1);
  classifierInput(img, [0], size, out, () => ({ flip: false, dx: 1, dy: 1 }));
  ok(at(1, 1, 2) === -1 && at(1, 0, 1) === 1);
  // Everything shifted out: all white.
  classifierInput(img, [0], size, out, () => ({ flip: false, dx: 0, dy: -2 }));
  ok(out.every((v) => v === 1));
});

Deno.test("judge: the fingerprint follows every sprite byte and label", () => {
  const ds = toySprites(5);
  const a = datasetFingerprint(ds);
  ds.images[100] ^= 1;
  const b = datasetFingerprint(ds);
  ds.images[100] ^= 1;
  ds.labels[0] = 0.5;
  ok(a !== b && datasetFingerprint(ds) !== a && a.endsWith(":20"));
});
