// The whole evaluation on constructed generators with known answers, judged by a classifier the
// engine trains on a toy set: a generator that copies training sprites scores 100 % near-copies,
// full consistency and real-like diversity; one that ignores the labels scores chance; noise
// passes no cleaning rule and copies nothing.
import { ok } from "node:assert/strict";
import {
  cornerGap,
  DEFAULT_EVAL_SETTINGS,
  type EvalSettings,
  evaluate,
  type SpriteGenerator,
} from "../../gpu/eval/evaluate.ts";
import { DEFAULT_JUDGE_RECIPE, type Judge, judgeSplit, trainJudge } from "../../gpu/eval/judge.ts";
import { reportTable } from "../../gpu/eval/table.ts";
import { splitmix32 } from "../../gpu/train/balanced_sampler.ts";
import { classIndices } from "../../gpu/train/dataset.ts";
import { isBadSprite } from "../../data/clean.ts";
import { getGpu } from "../util.ts";
import { toySprites } from "./toy_sprites.ts";

const ds = toySprites(100);
const K = ds.classNames.length;
const PX = 16 * 16 * 3;
const members = Array.from(
  { length: K },
  (_, c) => Array.from(classIndices(ds)).flatMap((k, i) => (k === c ? [i] : [])),
);

let judge: Promise<Judge> | undefined;
const toyJudge = async () =>
  await (judge ??= (async () =>
    trainJudge(await getGpu(), ds, { ...DEFAULT_JUDGE_RECIPE, epochs: 12, batch: 32 }))());

const settings: EvalSettings = {
  ...DEFAULT_EVAL_SETTINGS,
  perClass: 64,
  perPair: 32,
  guidances: [1, 2],
};

/** Sprites of real class `pick(row, i)`: the training set itself, sprite by sprite. */
function fromTraining(pick: (labels: Float32Array, i: number, seed: number) => number) {
  return {
    generate(labels: Float32Array, count: number, _g: number, seed: number) {
      const out = new Uint8Array(count * PX);
      for (let i = 0; i < count; i++) {
        const c = pick(labels.subarray(i * K, (i + 1) * K), i, seed);
        const j = members[c][(i * 7 + seed) % members[c].length];
        out.set(ds.images.subarray(j * PX, (j + 1) * PX), i * PX);
      }
      return Promise.resolve(out);
    },
  } satisfies SpriteGenerator;
}

/** The class asked for (in a mixture, each of its classes in turn). */
const copier = fromTraining((row, i) => {
  const asked = Array.from(row).flatMap((w, c) => (w > 0 ? [c] : []));
  return asked[i % asked.length];
});

async function run(generator: SpriteGenerator) {
  const gpu = await getGpu();
  const j = await toyJudge();
  return await evaluate(gpu, {
    generator,
    judge: j,
    dataset: ds,
    heldOut: judgeSplit(ds, j.recipe).heldOut,
    settings,
    passesCleaning: (images, i) => !isBadSprite(images, i, 16, 16),
  });
}

Deno.test("eval: a generator that copies training sprites: 100 % near-copies and consistency", async () => {
  const { report: r, nearest } = await run(copier);
  for (let c = 0; c < K; c++) {
    ok(r.memorization.perClass[c].generated === 1, JSON.stringify(r.memorization.perClass[c]));
    ok(r.consistency.every((x) => x.perClass[c].share === 1));
    ok(r.backgrounds!.perClass[c].generated === 1 && r.backgrounds!.perClass[c].cornerGap === 0);
    // A sample of the real sprites is as diverse as the real sprites.
    const ratio = r.diversity.perClass[c].ratio;
    ok(ratio > 0.85 && ratio < 1.15, `diversity ratio ${ratio}`);
    // Real sprites against real sprites: the FID is of the order of the floor.
    const fid = r.fid.perClass[c];
    ok(fid.generated < 3 * fid.floor + 1e-6, JSON.stringify(fid));
  }
  ok(r.mixtures.every((m) => m.pairs.every((p) => p.either === 1 && p.shareA === 0.5)));
  ok(nearest.length === K * 64 && nearest.every((p) => p.distance === 0));
  ok(r.judge.heldOut.accuracy === 1);
  const table = reportTable(r);
  ok(table.includes("0 red") && table.includes("100.0%") && table.includes("red + green"), table);
});

Deno.test("eval: a generator that ignores the labels scores chance consistency", async () => {
  const shuffled = fromTraining((_row, i, seed) => {
    const random = splitmix32(seed * 1000 + i);
    return Math.floor(random() * K);
  });
  const { report: r } = await run(shuffled);
  for (const x of r.consistency) {
    // 256 sprites, chance 1/4: the mean is within 0.1 of it (3.7 standard deviations).
    ok(Math.abs(x.mean - 1 / K) < 0.1, `guidance ${x.guidance}: ${x.mean}`);
  }
  for (const m of r.mixtures) ok(Math.abs(m.mean - 2 / K) < 0.1, `mixtures ${m.mean}`);
  // Still copies: the pixels say so whatever the labels.
  ok(r.memorization.overall.generated === 1);
});

Deno.test("eval: noise copies nothing, passes no cleaning rule and is far from the real features", async () => {
  const noise: SpriteGenerator = {
    generate(_labels, count, _g, seed) {
      const random = splitmix32(seed + count);
      return Promise.resolve(Uint8Array.from({ length: count * PX }, () => random() * 256));
    },
  };
  const { report: r } = await run(noise);
  ok(r.memorization.overall.generated === 0);
  ok(r.backgrounds!.overall === 0 && r.backgrounds!.cornerGap > 0.5);
  ok(r.fid.overall.generated > 10 * r.fid.overall.floor, JSON.stringify(r.fid.overall));
  // Held-out real sprites keep their own share, whatever is generated.
  ok(r.memorization.overall.heldOutReal > 0);
});

Deno.test("eval: the corner gap is the corners' largest distance from pure white", () => {
  const img = new Uint8Array(2 * 4 * 4 * 3).fill(255);
  ok(cornerGap(img, 0, 4, 4) === 0);
  img[4 * 4 * 3 + 15 * 3 + 1] = 204; // sprite 1, last corner, green channel
  img[4 * 4 * 3 + 5 * 3] = 0; // not a corner
  ok(cornerGap(img, 1, 4, 4) === 51 / 255 && cornerGap(img, 0, 4, 4) === 0);
});
