// The judge of the quality metrics: the sprite classifier (gpu/model/classifier.ts) trained on the
// cleaned real sprites with a held-out split, its held-out accuracy per class, and the files it is
// shipped as beside a model (classifier.safetensors + classifier.json, bytes only here).
// Training is its own small loop: class-balanced batches assembled on the host (with flips and
// one-pixel shifts), one command buffer per step (forward, cross-entropy, backward, AdamW).
import { parseJsonObject } from "../formats/checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import {
  buildClassifier,
  checkClassifierOptions,
  type Classifier,
  type ClassifierOptions,
  classifierParamSpecs,
  defaultClassifier,
} from "../model/classifier.ts";
import { initParamsHost, packParams, paramLayout } from "../model/params.ts";
import { ADAMW_HYPER_SIZE, adamwHyper, adamwStep } from "../ops/adamw.ts";
import { crossEntropyLoss } from "../ops/cross_entropy.ts";
import type { Gpu } from "../runtime/device.ts";
import { CheckpointError } from "../runtime/errors.ts";
import { encode, runNow } from "../runtime/kernel.ts";
import { createTensor, readback, upload } from "../runtime/tensor.ts";
import { splitmix32 } from "../train/balanced_sampler.ts";
import { classIndices, type SpriteDataset } from "../train/dataset.ts";
import { indicesByClass, stratifiedSplit } from "./split.ts";

export interface JudgeRecipe {
  epochs: number;
  batch: number;
  /** AdamW's peak learning rate; cosine decay to 0 over the run. */
  lr: number;
  weightDecay: number;
  /** Initial weights and batches. */
  seed: number;
  /** Share of each class held out, and the split's seed. */
  heldOutShare: number;
  splitSeed: number;
  /** Augmentation: random horizontal flips, shifts of up to `shift` pixels (white comes in). */
  flip: boolean;
  shift: number;
}

export const DEFAULT_JUDGE_RECIPE: JudgeRecipe = {
  epochs: 12,
  batch: 64,
  lr: 2e-3,
  weightDecay: 1e-4,
  seed: 0,
  heldOutShare: 0.2,
  splitSeed: 14,
  flip: true,
  shift: 1,
};

export interface ClassAccuracy {
  name: string;
  count: number;
  correct: number;
  accuracy: number;
}

export interface JudgeAccuracy {
  perClass: ClassAccuracy[];
  /** Over all held-out sprites, and the mean of the per-class accuracies. */
  accuracy: number;
  balancedAccuracy: number;
}

export interface Judge {
  options: ClassifierOptions;
  classNames: string[];
  /** The parameters, packed in paramLayout(classifierParamSpecs(options)). */
  weights: Float32Array;
  recipe: JudgeRecipe;
  /** The cleaned sprites it was trained on: their fingerprint and count. */
  data: { fingerprint: string; count: number };
  heldOut: JudgeAccuracy;
}

/** FNV-1a over the sprites and their class vectors: which data a judge was trained on. */
export function datasetFingerprint(ds: SpriteDataset): string {
  let h = 0x811c9dc5;
  const mix = (bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  };
  mix(ds.images.subarray(0, ds.count * ds.height * ds.width * 3));
  mix(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength));
  return `fnv1a:${(h >>> 0).toString(16).padStart(8, "0")}:${ds.count}`;
}

/** The judge's held-out split of a dataset (stratified by class, seeded). */
export function judgeSplit(ds: SpriteDataset, recipe: JudgeRecipe) {
  return stratifiedSplit(
    classIndices(ds),
    ds.classNames.length,
    recipe.heldOutShare,
    recipe.splitSeed,
  );
}

/**
 * uint8 HWC sprites -> the classifier's input [n, 3, S, S] in [-1, 1] (as the UNet's), optionally
 * flipped and shifted (per sprite: flip, dx, dy); pixels shifted in are white.
 */
export function classifierInput(
  images: Uint8Array,
  indices: ArrayLike<number>,
  size: number,
  out: Float32Array,
  augment?: (n: number) => { flip: boolean; dx: number; dy: number },
): void {
  const plane = size * size;
  for (let n = 0; n < indices.length; n++) {
    const a = augment?.(n) ?? { flip: false, dx: 0, dy: 0 };
    const src = indices[n] * plane * 3;
    const dst = n * 3 * plane;
    for (let y = 0; y < size; y++) {
      const sy = y - a.dy;
      for (let x = 0; x < size; x++) {
        const sx0 = x - a.dx;
        const sx = a.flip ? size - 1 - sx0 : sx0;
        const inside = sy >= 0 && sy < size && sx >= 0 && sx < size;
        for (let c = 0; c < 3; c++) {
          const v = inside ? images[src + (sy * size + sx) * 3 + c] : 255;
          out[dst + c * plane + y * size + x] = v / 127.5 - 1;
        }
      }
    }
  }
}

/** Runs a judge over sprites: features [n, F], logits [n, K] and the predicted class of each. */
export class JudgeRunner {
  private constructor(readonly gpu: Gpu, readonly judge: Judge, private readonly net: Classifier) {}

  static async create(gpu: Gpu, judge: Judge, batch = 128): Promise<JudgeRunner> {
    const net = await buildClassifier(gpu, judge.options, { batch });
    upload(gpu, net.params.data, judge.weights);
    return new JudgeRunner(gpu, judge, net);
  }

  get featureWidth(): number {
    return this.judge.options.features;
  }

  /** `images` [count, S, S, 3] uint8 (or the sprites at `indices`). */
  async run(images: Uint8Array, indices?: ArrayLike<number>) {
    const { net, gpu } = this;
    const o = this.judge.options;
    const px = o.size * o.size * 3;
    const ids = indices ?? Uint32Array.from({ length: images.length / px }, (_, i) => i);
    const n = ids.length;
    const features = new Float32Array(n * o.features);
    const logits = new Float32Array(n * o.classes);
    const input = new Float32Array(net.input.size);
    const all = Array.from(ids);
    for (let start = 0; start < n; start += net.batch) {
      const chunk = all.slice(start, start + net.batch);
      input.fill(0);
      classifierInput(images, chunk, o.size, input);
      upload(gpu, net.input, input);
      await runNow(gpu, net.forward);
      const f = await readback(gpu, net.features);
      const l = await readback(gpu, net.logits);
      features.set(f.subarray(0, chunk.length * o.features), start * o.features);
      logits.set(l.subarray(0, chunk.length * o.classes), start * o.classes);
    }
    const predicted = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < o.classes; c++) {
        if (logits[i * o.classes + c] > logits[i * o.classes + best]) best = c;
      }
      predicted[i] = best;
    }
    return { features, logits, predicted };
  }
}

/** Accuracy per class of `predicted` against `truth` (class indices, same order). */
export function accuracyByClass(
  predicted: ArrayLike<number>,
  truth: ArrayLike<number>,
  classNames: readonly string[],
): JudgeAccuracy {
  const perClass = classNames.map((name) => ({ name, count: 0, correct: 0, accuracy: NaN }));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const c = perClass[truth[i]];
    c.count++;
    if (predicted[i] === truth[i]) [c.correct, correct] = [c.correct + 1, correct + 1];
  }
  for (const c of perClass) c.accuracy = c.count ? c.correct / c.count : NaN;
  const seen = perClass.filter((c) => c.count > 0);
  return {
    perClass,
    accuracy: truth.length ? correct / truth.length : NaN,
    balancedAccuracy: seen.reduce((s, c) => s + c.accuracy, 0) / Math.max(1, seen.length),
  };
}

export interface JudgeProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** Mean loss of the epoch just finished. */
  loss: number;
}

/** Trains a judge on the dataset's training split and measures it on the held-out split. */
export async function trainJudge(
  gpu: Gpu,
  ds: SpriteDataset,
  recipe: JudgeRecipe = DEFAULT_JUDGE_RECIPE,
  onEpoch?: (p: JudgeProgress) => void,
  options: ClassifierOptions = defaultClassifier(ds.classNames.length, ds.height),
): Promise<Judge> {
  checkClassifierOptions(options);
  const K = ds.classNames.length;
  if (options.classes !== K || options.size !== ds.height || ds.width !== ds.height) {
    throw new Error(
      `trainJudge: a ${options.classes}-class ${options.size}px classifier for ` +
        `${K} classes of ${ds.height}x${ds.width} sprites`,
    );
  }
  const classes = classIndices(ds);
  const split = judgeSplit(ds, recipe);
  const B = recipe.batch;
  const net = await buildClassifier(gpu, options, { batch: B, withBackward: true });
  const layout = net.params.layout;
  const random = splitmix32(recipe.seed);
  upload(gpu, net.params.data, initParamsHost(layout, random));
  const target = createTensor(gpu, [B, K], "f32", "classifier.target");
  const loss = createTensor(gpu, [1], "f32", "classifier.lossSum");
  const hyper = createTensor(gpu, [ADAMW_HYPER_SIZE], "f32", "classifier.adamw");
  const m = createTensor(gpu, [layout.totalElements], "f32", "classifier.exp_avg");
  const v = createTensor(gpu, [layout.totalElements], "f32", "classifier.exp_avg_sq");
  const program = [
    ...net.forward,
    ...await crossEntropyLoss(gpu, {
      logits: net.logits,
      target,
      dLogits: net.dLogits,
      loss,
      rows: B,
      classes: K,
      accumulateLoss: true,
    }),
    ...net.backward,
    ...await adamwStep(gpu, {
      param: net.params.data,
      grad: net.params.grads,
      m,
      v,
      hyper,
      n: layout.totalElements,
    }),
  ];

  // Class-balanced batches: a class uniformly (among those with training sprites), then a sprite.
  const byClass = indicesByClass(Uint32Array.from(split.train, (i) => classes[i]), K)
    .map((members) => Uint32Array.from(members, (j) => split.train[j]));
  const present = byClass.map((_, c) => c).filter((c) => byClass[c].length > 0);
  const stepsPerEpoch = Math.max(1, Math.ceil(split.train.length / B));
  const steps = recipe.epochs * stepsPerEpoch;
  const input = new Float32Array(net.input.size);
  const targets = new Float32Array(B * K);
  const batch = new Uint32Array(B);
  const augment = () => ({
    flip: recipe.flip && random() < 0.5,
    dx: Math.floor(random() * (2 * recipe.shift + 1)) - recipe.shift,
    dy: Math.floor(random() * (2 * recipe.shift + 1)) - recipe.shift,
  });
  let step = 0;
  for (let epoch = 0; epoch < recipe.epochs; epoch++) {
    upload(gpu, loss, new Float32Array(1));
    for (let s = 0; s < stepsPerEpoch; s++, step++) {
      targets.fill(0);
      for (let b = 0; b < B; b++) {
        const c = present[Math.floor(random() * present.length)];
        batch[b] = byClass[c][Math.floor(random() * byClass[c].length)];
        targets[b * K + c] = 1;
      }
      classifierInput(ds.images, batch, options.size, input, augment);
      upload(gpu, net.input, input);
      upload(gpu, target, targets);
      const lr = recipe.lr * 0.5 * (1 + Math.cos(Math.PI * step / steps));
      upload(gpu, hyper, adamwHyper({ lr, weightDecay: recipe.weightDecay }, step + 1));
      const encoder = gpu.device.createCommandEncoder();
      encode(encoder, program);
      gpu.device.queue.submit([encoder.finish()]);
    }
    const sum = (await readback(gpu, loss))[0];
    onEpoch?.({ epoch: epoch + 1, epochs: recipe.epochs, step, steps, loss: sum / stepsPerEpoch });
  }
  const weights = await readback(gpu, net.params.data);
  const judge: Judge = {
    options,
    classNames: [...ds.classNames],
    weights,
    recipe,
    data: { fingerprint: datasetFingerprint(ds), count: ds.count },
    heldOut: { perClass: [], accuracy: NaN, balancedAccuracy: NaN },
  };
  const runner = await JudgeRunner.create(gpu, judge);
  const { predicted } = await runner.run(ds.images, split.heldOut);
  judge.heldOut = accuracyByClass(
    predicted,
    Array.from(split.heldOut, (i) => classes[i]),
    ds.classNames,
  );
  return judge;
}

export const JUDGE_FILES = {
  weights: "classifier.safetensors",
  info: "classifier.json",
} as const;

const JUDGE_FORMAT = "sprite-diffusion-classifier/1";

/** A judge as its two files. */
export function judgeFiles(judge: Judge): Map<string, Uint8Array> {
  const layout = paramLayout(classifierParamSpecs(judge.options));
  const tensors = layout.entries.map((e) =>
    [e.name, e.shape, judge.weights.slice(e.offset, e.offset + e.size)] as [
      string,
      number[],
      Float32Array,
    ]
  );
  const { weights: _, ...info } = judge;
  const json = JSON.stringify({ format: JUDGE_FORMAT, ...info }, null, 2) + "\n";
  return new Map([
    [JUDGE_FILES.weights, writeSafetensors(tensors, { format: "pt" })],
    [JUDGE_FILES.info, new TextEncoder().encode(json)],
  ]);
}

/** A judge from its two files (`where` names the folder in errors). */
export function judgeFromFiles(where: string, files: ReadonlyMap<string, Uint8Array>): Judge {
  const get = (name: string) => {
    const bytes = files.get(name);
    if (!bytes) throw new CheckpointError(`${where}: ${name} is missing`);
    return bytes;
  };
  const info = parseJsonObject(`${where}/${JUDGE_FILES.info}`, get(JUDGE_FILES.info));
  if (info.format !== JUDGE_FORMAT) {
    throw new CheckpointError(`${where}/${JUDGE_FILES.info}: format is not ${JUDGE_FORMAT}`);
  }
  const options = info.options as ClassifierOptions;
  try {
    checkClassifierOptions(options);
  } catch (e) {
    throw new CheckpointError(`${where}/${JUDGE_FILES.info}: ${(e as Error).message}`);
  }
  const tensors = readSafetensors(get(JUDGE_FILES.weights));
  let weights: Float32Array;
  try {
    weights = packParams(paramLayout(classifierParamSpecs(options)), tensors);
  } catch (e) {
    throw new CheckpointError(`${where}/${JUDGE_FILES.weights}: ${(e as Error).message}`);
  }
  const classNames = (info.classNames as unknown[]).map(String);
  if (classNames.length !== options.classes) {
    throw new CheckpointError(
      `${where}/${JUDGE_FILES.info}: ${classNames.length} class names ` +
        `for ${options.classes} classes`,
    );
  }
  return {
    options,
    classNames,
    weights,
    recipe: { ...DEFAULT_JUDGE_RECIPE, ...(info.recipe as Partial<JudgeRecipe>) },
    data: info.data as Judge["data"],
    heldOut: info.heldOut as JudgeAccuracy,
  };
}

/**
 * The bytes a JudgeRunner holds at `batch`: its parameters and every tensor of its forward (input,
 * each conv's output before and after SiLU, the feature layer, logits and their gradient), float32.
 */
export function judgeRunnerBytes(o: ClassifierOptions, batch = 128): number {
  const params = classifierParamSpecs(o).reduce((n, p) => n + p.shape.reduce((a, b) => a * b), 0);
  let [h, act] = [o.size, 0];
  o.channels.forEach((c, i) => {
    if (i > 0) h /= 2;
    act += 2 * c * h * h;
  });
  const perSprite = 3 * o.size * o.size + act + 2 * o.features + 2 * o.classes;
  return 4 * (params + batch * perSprite);
}
