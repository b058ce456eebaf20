// Generating sprites: class vectors -> embedding net -> N x (UNet, scheduler step), recorded once per
// (batch, steps, eta, scheduler, guidance on/off) into a single compute pass, read back only at the end.
// The starting noise is the program's first draw, or the request's own (`latents`).
// Classifier-free guidance runs the UNet on 2B items, the second half conditioned on the all-zero
// class vector that the masked training teaches as "no class"; the layers before the class is
// first read run on B.
import { buildClassEmbedding } from "../model/class_embedding.ts";
import { CHECKPOINT_FILES } from "../formats/checkpoint.ts";
import type { Gpu } from "../runtime/device.ts";
import { CheckpointError, RequestError } from "../runtime/errors.ts";
import {
  createDispatch,
  type Dispatch,
  encode,
  grid1d,
  setParams,
  withoutRedundantRefreshes,
} from "../runtime/kernel.ts";
import { RANDOM_WGSL } from "../runtime/random.ts";
import { DDIMScheduler, ddimStep, DDPMScheduler, ddpmStep } from "./scheduler.ts";
import type { SpriteModel } from "../model/sprite_model.ts";
import { createTensor, readback, type Tensor, tensorView, upload } from "../runtime/tensor.ts";
import { NonFiniteResultError } from "../runtime/errors.ts";
import {
  AllocationScope,
  dryRunAllocations,
  estimateTotal,
  type MemoryBudget,
  type MemoryEstimate,
  withAllocations,
} from "../runtime/memory.ts";
import { buildUNet } from "../model/unet.ts";

export type SchedulerName = "ddim" | "ddpm";

export interface SampleRequest {
  /** One class vector per sprite, [count, classes] (one-hot, a mixture, or all zero). */
  labels: Float32Array;
  count: number;
  steps: number;
  /** DDIM's eta (0 = deterministic); ignored by DDPM. */
  eta: number;
  seed: number;
  /**
   * Optional per-sprite noise origin, [count, 2] u32 = (seed, index within its own request): lets
   * requests with different seeds share one batch (the server merges them) and each get the bytes
   * it would get alone. Default (seed, i) for sprite i.
   */
  itemSeeds?: Uint32Array;
  /** Classifier-free guidance scale; 1 = off. */
  guidance: number;
  scheduler: SchedulerName;
  /**
   * The starting noise x_T, [count, C, H, W] f32 (diffusers' `latents=`): it replaces the first
   * draw, so the same noise and weights give the same sprites as any other implementation. The
   * later draws (DDPM's, and DDIM's with eta > 0) still come from the seeds.
   */
  latents?: Float32Array;
}

const WG = 64;

const fillValueKernel = {
  name: "fillValue",
  params: { n: "u32", value: "f32" },
  bindings: { out: "write" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i < p.n) { out[i] = p.value; }
}`,
} as const;

// eps = uncond + g (cond - uncond); output holds [cond (B items) | uncond (B items)].
const guidanceKernel = {
  name: "classifierFreeGuidance",
  params: { n: "u32", scale: "f32" },
  bindings: { output: "read", eps: "write" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let cond = output[i];
  let uncond = output[i + p.n];
  eps[i] = uncond + p.scale * (cond - uncond);
}`,
} as const;

// fillNormal, except that item b draws as item itemSeeds[2b+1] of a request seeded itemSeeds[2b]:
// the same Philox words (step 0), so a lone request gets exactly fillNormal's numbers.
const fillItemNormalKernel = {
  name: "fillItemNormal",
  params: { n: "u32", stream: "u32", itemSize: "u32" },
  bindings: { itemSeeds: "read array<u32>", out: "write" },
  consts: { WG },
  code: RANDOM_WGSL + /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let first = flat_id(gid, nwg, WG) * 4u;
  if (first >= p.n) { return; }
  let item = first / p.itemSize; // itemSize is a multiple of 4: a block never spans two items
  let counter = first - item * p.itemSize + itemSeeds[2u * item + 1u] * p.itemSize;
  let v = rand_words_to_normal4(philox4x32(counter / 4u, 0u, itemSeeds[2u * item], p.stream));
  for (var j = 0u; j < 4u; j++) {
    if (first + j < p.n) { out[first + j] = v[j]; }
  }
}`,
} as const;

interface Program {
  batch: number;
  labels: Tensor;
  /** u32 [batch, 2]: each item's (seed, index within its request). */
  itemSeeds: Tensor;
  sample: Tensor;
  dispatches: Dispatch[];
  /** One per step; each holds the guidance scale, rewritten per request. */
  guidance: Dispatch[];
  /** Where each step's dispatches end in `dispatches` (the progress reports' submit points). */
  stepEnds: number[];
  /** The index in `dispatches` of the first draw (x_T), skipped when a request brings its own. */
  firstDraw: number;
}

/** Called after each denoising step has run on the GPU: (steps done, steps in all). */
export type SampleProgress = (done: number, total: number) => void;

/** A cached program: built once, destroyed when evicted and no pass is using it. */
interface Entry {
  key: string;
  program: Promise<Program>;
  scope: AllocationScope;
  estimate: MemoryEstimate;
  running: number;
  evicted: boolean;
}

export interface SamplerOptions {
  /** Programs kept for reuse (default 6); the least recently used is destroyed past it. */
  maxPrograms?: number;
  /** Programs reserve their estimated bytes here before they are built. */
  budget?: MemoryBudget;
}

/** Holds compiled sampling programs of one model; programs are kept for reuse (a few at most). */
export class SpriteSampler {
  #programs = new Map<string, Entry>();
  #estimates = new Map<string, Promise<MemoryEstimate>>();
  readonly maxPrograms: number;
  readonly budget?: MemoryBudget;
  constructor(readonly gpu: Gpu, readonly model: SpriteModel, options: SamplerOptions = {}) {
    this.maxPrograms = options.maxPrograms ?? 6;
    this.budget = options.budget;
    if (!model.embeddingParams) {
      throw new CheckpointError(
        `this model has no class-embedding net (${CHECKPOINT_FILES.embedding}), so it cannot ` +
          "sample by class: a plain diffusers UNet folder can be checked (deno task " +
          "check-reference) but needs the tutorial's embedding net beside it to sample, saved " +
          `as ${CHECKPOINT_FILES.embedding} with the torch Sequential's names (0.weight, 0.bias, ` +
          "3.weight, 3.bias), or a model trained here (deno task train)",
      );
    }
    const { in_channels, out_channels, sample_size } = model.config;
    if (in_channels !== 3 || out_channels !== 3) {
      throw new CheckpointError(
        `sprites are RGB: this UNet has ${in_channels} input and ${out_channels} output channels`,
      );
    }
    if (!sample_size) {
      throw new CheckpointError(
        "this UNet's config has no sample_size, so its sprites have no size",
      );
    }
  }

  /** Sprites are size x size pixels: the model's sample_size, the size it was trained at. */
  get size(): number {
    return this.model.config.sample_size!;
  }

  get classes(): number {
    return this.model.embedding.inFeatures;
  }

  /** Bytes the programs hold now (their buffers and textures as allocated). */
  get programBytes(): number {
    let n = 0;
    for (const e of this.#programs.values()) n += e.scope.bytes;
    return n;
  }

  get programCount(): number {
    return this.#programs.size;
  }

  /**
   * Returns count sprites as uint8 HWC RGB, [count, H, W, 3]. Same request, same bytes, with or
   * without `onProgress`.
   */
  async generate(req: SampleRequest, onProgress?: SampleProgress): Promise<Uint8Array> {
    return toBytes(await this.generateFloats(req, onProgress), this.size);
  }

  /**
   * What the program for this request holds, before it is built: a dry run of its builder against a
   * counting device (gpu/runtime/memory.ts) gives the device bytes; the host keeps the readback.
   */
  estimate(req: Pick<SampleRequest, "count" | "steps" | "eta" | "scheduler" | "guidance">) {
    const batch = bucket(req.count);
    const key = programKey(batch, req);
    let e = this.#estimates.get(key);
    if (!e) {
      e = dryRunAllocations(this.gpu, (g) => this.#build(g, batch, req)).then((c) => ({
        deviceBytes: c.bytes,
        // The readback's copy, the floats cut from it and the bytes made from them.
        hostBytes: 3 * batch * itemSize(this.model) * 4,
      }));
      this.#estimates.set(key, e);
      e.catch(() => this.#estimates.delete(key));
    }
    return e;
  }

  /** Whether a program for this request is built already (no new memory needed). */
  isBuilt(req: Pick<SampleRequest, "count" | "steps" | "eta" | "scheduler" | "guidance">): boolean {
    return this.#programs.has(programKey(bucket(req.count), req));
  }

  /** Whether this request's program is built or fits the budget once idle programs are evicted. */
  async fits(req: Pick<SampleRequest, "count" | "steps" | "eta" | "scheduler" | "guidance">) {
    if (!this.budget || this.isBuilt(req)) return true;
    const need = estimateTotal(await this.estimate(req));
    let evictable = 0;
    for (const e of this.#programs.values()) {
      if (e.running === 0) evictable += estimateTotal(e.estimate);
    }
    return this.budget.usedBytes - evictable + need <= this.budget.limitBytes;
  }

  /**
   * The sampler's output before the conversion to bytes: [count, 3, H, W] f32, clipped to [-1, 1]
   * by the last scheduler step. Same request, same numbers. A result that is not finite throws
   * NonFiniteResultError.
   */
  async generateFloats(req: SampleRequest, onProgress?: SampleProgress): Promise<Float32Array> {
    const entry = this.#entry(req);
    entry.running++;
    try {
      const p = await entry.program;
      const out = await this.#run(p, req, onProgress);
      const bad = out.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        const count = out.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);
        throw new NonFiniteResultError(
          `the model's output is not finite (${out[bad]} in ${count} of ${out.length} values): ` +
            "its weights or this request's class weights overflow float32",
        );
      }
      return out;
    } finally {
      entry.running--;
      if (entry.evicted && entry.running === 0) this.#destroy(entry);
    }
  }

  /** Destroys every program now (a swapped-out model's sampler); passes in flight finish first. */
  close(): void {
    for (const e of [...this.#programs.values()]) this.#evict(e);
  }

  #entry(req: SampleRequest): Entry {
    const batch = bucket(req.count);
    const key = programKey(batch, req);
    const cached = this.#programs.get(key);
    if (cached) {
      // Least recently used last out.
      this.#programs.delete(key);
      this.#programs.set(key, cached);
      return cached;
    }
    const scope = new AllocationScope(`sampler ${key}`);
    const entry: Entry = {
      key,
      scope,
      estimate: { deviceBytes: 0, hostBytes: 0 },
      program: Promise.resolve(undefined as unknown as Program),
      running: 0,
      evicted: false,
    };
    entry.program = (async () => {
      entry.estimate = await this.estimate(req);
      this.#makeRoom(entry);
      this.budget?.reserve(
        entry,
        estimateTotal(entry.estimate),
        `a sampling program of ${batch} sprites x ${req.steps} steps` +
          (req.guidance !== 1 ? " with guidance" : ""),
      );
      return await this.#build(withAllocations(this.gpu, scope), batch, req);
    })();
    entry.program.catch(() => this.#evict(entry));
    this.#programs.set(key, entry);
    return entry;
  }

  /** Evicts idle programs, least recently used first, until `entry` fits the count and budget. */
  #makeRoom(entry: Entry): void {
    const need = estimateTotal(entry.estimate);
    for (const other of [...this.#programs.values()]) {
      if (other === entry || other.running > 0) continue;
      const full = this.#programs.size > this.maxPrograms;
      if (!full && (!this.budget || this.budget.fits(need))) break;
      this.#evict(other);
    }
  }

  #evict(entry: Entry): void {
    if (this.#programs.get(entry.key) === entry) this.#programs.delete(entry.key);
    entry.evicted = true;
    if (entry.running === 0) this.#destroy(entry);
  }

  #destroy(entry: Entry): void {
    entry.scope.destroy();
    this.budget?.release(entry);
  }

  async #run(p: Program, req: SampleRequest, onProgress?: SampleProgress): Promise<Float32Array> {
    const labels = new Float32Array(p.labels.size); // padding rows and the guidance half stay 0
    labels.set(req.labels.subarray(0, req.count * this.classes));
    upload(this.gpu, p.labels, labels);
    const seeds = new Uint32Array(p.batch * 2);
    for (let i = 0; i < req.count; i++) {
      seeds[2 * i] = req.itemSeeds ? req.itemSeeds[2 * i] : req.seed >>> 0;
      seeds[2 * i + 1] = req.itemSeeds ? req.itemSeeds[2 * i + 1] : i;
    }
    upload(this.gpu, p.itemSeeds, seeds);
    for (const d of p.guidance) {
      setParams(this.gpu, d, { n: p.batch * itemSize(this.model), scale: req.guidance });
    }
    let dispatches = p.dispatches;
    let stepEnds = p.stepEnds;
    if (req.latents) {
      // x_T written before the submit, and the draw that would overwrite it left out.
      const size = itemSize(this.model);
      if (req.latents.length !== req.count * size) {
        throw new RequestError(
          `the starting noise holds ${req.latents.length} values; ${req.count} sprites need ` +
            `${req.count * size} (${size} each)`,
        );
      }
      const x = new Float32Array(p.batch * size); // padding items start at 0
      x.set(req.latents);
      upload(this.gpu, p.sample, x);
      dispatches = dispatches.filter((_, i) => i !== p.firstDraw);
      stepEnds = stepEnds.map((e) => e - 1); // every step ends after the first draw
    }
    // One command buffer; with onProgress one per step, each waited for (the same dispatches in
    // the same order, so the same numbers).
    const ends = onProgress ? stepEnds : [dispatches.length];
    let start = 0;
    for (const [k, end] of ends.entries()) {
      const encoder = this.gpu.device.createCommandEncoder();
      encode(encoder, dispatches.slice(start, end));
      this.gpu.device.queue.submit([encoder.finish()]);
      start = end;
      if (onProgress) {
        await this.gpu.device.queue.onSubmittedWorkDone();
        onProgress(k + 1, ends.length);
      }
    }
    const x = await readback(this.gpu, p.sample);
    return x.subarray(0, req.count * itemSize(this.model));
  }

  /** Builds the program on `gpu` (the sampler's device with a scope, or a counting device). */
  async #build(
    gpu: Gpu,
    batch: number,
    req: Pick<SampleRequest, "steps" | "eta" | "scheduler" | "guidance">,
  ): Promise<Program> {
    const { model } = this;
    const guided = req.guidance !== 1;
    const rows = guided ? 2 * batch : batch;
    const unet = await buildUNet(gpu, model.config, {
      batch: rows,
      training: false,
      withBackward: false,
      params: model.unetParams,
      sharedPrefix: guided,
    });
    const emb = await buildClassEmbedding(gpu, model.embedding, {
      batch: rows,
      training: false,
      params: model.embeddingParams,
      output: unet.encoderHiddenStates,
    });
    const n = batch * itemSize(model);
    const itemSeeds = createTensor(gpu, [batch * 2], "u32", "sampler.itemSeeds");
    const size = itemSize(model);
    // Only the first `batch` items draw noise; the guidance half is a copy of them.
    const fillNormal = (args: { out: Tensor; stream: number }) =>
      createDispatch(
        gpu,
        fillItemNormalKernel,
        { itemSeeds, out: args.out },
        grid1d(Math.ceil(n / 4), WG),
        {
          n,
          stream: args.stream,
          itemSize: size,
        },
      );
    // With guidance the UNet's input holds the first half only: the layers before the context
    // is read run once for both halves (buildUNet's sharedPrefix).
    const sample = unet.sample;
    const eps = guided ? createTensor(gpu, [n], "f32", "sampler.eps") : unet.output;
    const noise = createTensor(gpu, [n], "f32", "sampler.noise");

    // The UNet's weight packs once per request (the parameters do not change within it).
    const dispatches: Dispatch[] = [
      ...unet.prepare,
      ...emb.forward,
      await fillNormal({ out: sample, stream: 0 }),
    ];
    const firstDraw = dispatches.length - 1;
    const scheduler = req.scheduler === "ddim" ? new DDIMScheduler() : new DDPMScheduler();
    scheduler.setTimesteps(req.steps);
    const guidance: Dispatch[] = [];
    const stepEnds: number[] = [];
    for (const [k, t] of scheduler.timesteps.entries()) {
      dispatches.push(
        await createDispatch(gpu, fillValueKernel, { out: unet.timesteps }, grid1d(rows, WG), {
          n: rows,
          value: t,
        }),
      );
      dispatches.push(...unet.forwardPrepared);
      if (guided) {
        const combine = await createDispatch(
          gpu,
          guidanceKernel,
          { output: unet.output, eps },
          grid1d(n, WG),
          { n, scale: req.guidance },
        );
        guidance.push(combine);
        dispatches.push(combine);
      }
      const s = scheduler.stepScalars(t);
      const modelOutput = guided ? eps : tensorView(unet.output, 0, [n]);
      // DDIM adds variance noise when eta > 0; DDPM at every step but the last (t = 0).
      const ddim = scheduler instanceof DDIMScheduler;
      const noisy = ddim ? req.eta > 0 : t > 0;
      if (noisy) dispatches.push(await fillNormal({ out: noise, stream: k + 1 }));
      const step = {
        modelOutput,
        sample,
        out: sample,
        noise: noisy ? noise : undefined,
        alphaProdT: s.alphaProdT,
        alphaProdTPrev: s.alphaProdTPrev,
        clipSample: true,
        n,
      };
      dispatches.push(
        await (ddim ? ddimStep(gpu, { ...step, eta: req.eta }) : ddpmStep(gpu, step)),
      );
      stepEnds.push(dispatches.length);
    }
    // The host writes only before the first submit (#run), so a mirror stays current across steps.
    const slim = withoutRedundantRefreshes(dispatches, [firstDraw, ...stepEnds]);
    return {
      batch,
      labels: emb.input,
      itemSeeds,
      sample,
      dispatches: slim.list,
      guidance,
      stepEnds: slim.marks.slice(1),
      firstDraw: slim.marks[0],
    };
  }
}

function programKey(
  batch: number,
  req: Pick<SampleRequest, "steps" | "eta" | "scheduler" | "guidance">,
): string {
  return [batch, req.steps, req.eta, req.scheduler, req.guidance !== 1].join("|");
}

function itemSize(model: SpriteModel): number {
  const size = model.config.sample_size!; // checked by the constructor
  return model.config.in_channels * size * size;
}

/**
 * Batch sizes are rounded up so that a handful of programs serve every request: powers of two up
 * to 4, multiples of 4 up to 32, of 8 beyond. Finer than powers of two because the padding rows
 * cost as much as real ones (20 sprites, the page's first view, ran a batch of 32).
 */
export function bucket(count: number): number {
  const n = Math.max(1, count);
  if (n <= 4) return 2 ** Math.ceil(Math.log2(n));
  const step = n <= 32 ? 4 : 8;
  return Math.ceil(n / step) * step;
}

/**
 * [count, C, size, size] in [-1, 1] -> uint8 [count, size, size, C], as diffusers'
 * (x / 2 + 0.5).clamp(0, 1). `size` is the model's sample_size and has no default: a guessed one
 * reads a model of another size as the wrong number of scrambled sprites.
 */
export function toBytes(x: Float32Array, size: number, channels = 3): Uint8Array {
  const plane = size * size;
  const count = x.length / (channels * plane);
  const out = new Uint8Array(x.length);
  for (let b = 0; b < count; b++) {
    for (let c = 0; c < channels; c++) {
      for (let s = 0; s < plane; s++) {
        const v = Math.min(1, Math.max(0, x[(b * channels + c) * plane + s] / 2 + 0.5));
        out[(b * plane + s) * channels + c] = Math.round(v * 255);
      }
    }
  }
  return out;
}
