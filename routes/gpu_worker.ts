// The service's GPU worker: a Web Worker with its own WebGPU device, the serving model, its sampler
// queue, the training job and the evaluation of the served model (routes/quality_job.ts). Deno's
// WebGPU waits for the GPU inside queue submission (a submit returns once the work before it is
// done), so whatever thread submits is blocked for the whole of a pass; here that thread is not the
// one that answers HTTP. The HTTP side (routes/gpu_client.ts)
// sends parsed requests and gets sprites, progress and replies back (routes/gpu_protocol.ts).
//
// The schedule is generation first (routes/generation_queue.ts): training steps run while no
// request waits, and between passes after every few passes while requests keep coming. Memory has
// a budget (gpu/runtime/memory.ts): the serving model, each sampling program and the training job
// reserve their estimated bytes before they are built, evicted programs are destroyed at once, and
// the job's buffers are destroyed when it ends.
/// <reference lib="deno.worker" />
import { configFromSource, openModel } from "../data/model_source.ts";
import { RunFolder } from "../data/run_folder.ts";
import { loadTrainingSet } from "../data/training_set.ts";
import { InputError, inputErrorStatus } from "../errors.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../gpu/formats/checkpoint.ts";
import { parseUNetConfig } from "../gpu/model/config.ts";
import {
  randomSpriteModel,
  type SpriteModel,
  spriteModelCheckpoint,
  spriteModelFromCheckpoint,
} from "../gpu/model/sprite_model.ts";
import {
  adapterLine,
  defaultPrecision,
  getGpu,
  type Gpu,
  withPrecision,
} from "../gpu/runtime/device.ts";
import {
  AllocationScope,
  defaultMemoryBudget,
  estimateTotal,
  MemoryBudget,
  withAllocations,
} from "../gpu/runtime/memory.ts";
import { oneHot, repeatVector } from "../gpu/sample/labels.ts";
import { SpriteSampler } from "../gpu/sample/sampler.ts";
import type { EvalSettings } from "../gpu/eval/evaluate.ts";
import { runTraining } from "../gpu/train/run.ts";
import { estimateTraining, Trainer } from "../gpu/train/trainer.ts";
import { GenerationCancelledError, GenerationQueue } from "./generation_queue.ts";
import type {
  FromWorker,
  JobView,
  ModelSpec,
  Preview,
  PreviewRequest,
  QualityView,
  ServingModel,
  Swapped,
  ToWorker,
  TrainRequest,
  WireError,
  WorkerInit,
  WorkerStats,
} from "./gpu_protocol.ts";
import { IDLE_QUALITY, startQuality } from "./quality_job.ts";
import { describeModel, publicName } from "./serving_model.ts";

const post = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, transfer);

/** Refusals of the worker's own: a second job (409), a request while closing (503). */
class BusyError extends Error {}
class ShuttingDownError extends Error {
  constructor() {
    super("the server is shutting down");
  }
}

function wireError(e: unknown): WireError {
  if (e instanceof GenerationCancelledError) return { message: e.message, cancelled: true };
  if (e instanceof BusyError) return { message: e.message, status: 409 };
  if (e instanceof ShuttingDownError) return { message: e.message, status: 503 };
  const status = inputErrorStatus(e);
  if (status === undefined) console.error("GPU worker:", e);
  return { message: (e as Error)?.message ?? String(e), status };
}

/** A model on the device with the scope its parameters were allocated in. */
interface Loaded {
  model: SpriteModel;
  scope: AllocationScope;
  summary: ServingModel;
}

/** How a served model was loaded, so that it can be loaded again (a revert). */
interface Served {
  spec: ModelSpec;
  source: string;
}

/** A checkpoint loaded for a preview, with its sampler: a swap to it serves it as it is. */
interface Candidate {
  dir: string;
  loaded: Loaded;
  sampler: SpriteSampler;
}

interface Job {
  view: JobView;
  stop: boolean;
  finished: Promise<void>;
}

class GpuService {
  #loaded: Loaded;
  #sampler: SpriteSampler;
  readonly queue: GenerationQueue;
  #job?: Job;
  /** A job is being built (set before the first await, so two requests cannot both start one). */
  #starting = false;
  #pending = new Map<number, AbortController>();
  #trainingSteps = 0;
  #serving: Served;
  #previous?: Served;
  #candidate?: Candidate;
  #quality: QualityView = IDLE_QUALITY;
  /** Set before the first await of a start, so two requests cannot both start an evaluation. */
  #qualityStarting = false;
  #qualityFinished: Promise<void> = Promise.resolve();
  #closing = false;

  private constructor(
    readonly gpu: Gpu,
    readonly budget: MemoryBudget,
    readonly init: WorkerInit,
    loaded: Loaded,
  ) {
    this.#loaded = loaded;
    this.#serving = { spec: init.model, source: loaded.summary.source };
    this.#sampler = new SpriteSampler(gpu, loaded.model, { budget });
    this.queue = new GenerationQueue(this.#sampler, init.maxBatch);
  }

  static async start(init: WorkerInit): Promise<GpuService> {
    const gpu = withPrecision(await getGpu(), init.precision);
    const budget = new MemoryBudget(
      init.memoryBudgetBytes ?? defaultMemoryBudget(gpu, Deno.systemMemoryInfo().total),
    );
    const loaded = await load(gpu, budget, init.model);
    return new GpuService(gpu, budget, init, loaded);
  }

  get model(): ServingModel {
    return this.#loaded.summary;
  }

  stats(): WorkerStats {
    return {
      queue: this.queue.stats,
      memory: {
        budgetBytes: this.budget.limitBytes,
        usedBytes: this.budget.usedBytes,
        peakBytes: this.budget.peakBytes,
        programBytes: this.#sampler.programBytes,
        programs: this.#sampler.programCount,
        holders: this.budget.holders(),
      },
      trainingSteps: this.#trainingSteps,
    };
  }

  async handle(m: ToWorker): Promise<void> {
    if (m.type === "cancel") return this.#pending.get(m.id)?.abort();
    if (m.type === "init") return;
    const id = m.id;
    try {
      if (m.type === "generate") {
        const abort = new AbortController();
        this.#pending.set(id, abort);
        let made;
        try {
          const onProgress = m.progress
            ? (done: number, total: number) =>
              post({ type: "generation-progress", id, done, total })
            : undefined;
          const queued = this.queue.generate(m.job, abort.signal, onProgress, m.keep);
          post({ type: "stats", stats: this.stats() }); // the HTTP side's health sees it waiting
          made = await queued;
        } finally {
          // Before the reply (or the error's): whoever gets it sees the stats that include it.
          this.#pending.delete(id);
          post({ type: "stats", stats: this.stats() });
        }
        post({ type: "reply", id, value: made }, [made.sprites.buffer]);
        return;
      }
      if (m.type === "train") {
        return post({ type: "reply", id, value: await this.#train(m.request) });
      }
      if (m.type === "stop-training") {
        const job = this.#job;
        if (job && (job.view.status === "running" || job.view.status === "stopping")) {
          job.stop = true;
          job.view.status = "stopping";
          await job.finished;
        }
        return post({ type: "reply", id, value: job?.view ?? null });
      }
      if (m.type === "quality") {
        return post({ type: "reply", id, value: await this.#startQuality(m.settings) });
      }
      if (m.type === "swap") return post({ type: "reply", id, value: await this.#swap(m) });
      if (m.type === "revert") return post({ type: "reply", id, value: await this.#revert() });
      if (m.type === "preview") {
        const preview = await this.#preview(m.dir, m.source, m.request);
        return post({ type: "reply", id, value: preview }, [preview.sprites.buffer]);
      }
      if (m.type === "close") {
        await this.close();
        post({ type: "reply", id });
        post({ type: "closed" });
        if (!m.exiting) self.close();
      }
    } catch (e) {
      post({ type: "reply", id, error: wireError(e) });
    }
  }

  /** Builds the job (refused with 413/503 past the budget) and runs it in the background. */
  async #train(r: TrainRequest): Promise<JobView> {
    const running = this.#job?.view.status;
    if (this.#starting || running === "running" || running === "stopping") {
      throw new BusyError("a training job is already running (one at a time)");
    }
    this.#starting = true;
    try {
      return await this.#startJob(r);
    } finally {
      this.#starting = false;
    }
  }

  async #startJob(r: TrainRequest): Promise<JobView> {
    const recipe = r.autoPrecision
      ? { ...r.recipe, precision: defaultPrecision(this.gpu) }
      : r.recipe;
    const source = this.init.trainingData ?? { sprites: null, labels: null, clean: true };
    const { dataset } = await loadTrainingSet(source);
    const served = this.#loaded.model;
    if (r.start === "serving") {
      const classes = served.classNames.join(", ");
      if (
        dataset.classNames.join(", ") !== classes || dataset.height !== served.config.sample_size
      ) {
        throw new InputError(
          `the served model (${classes}; ${served.config.sample_size} px) cannot be fine-tuned on ` +
            `this training set (${dataset.classNames.join(", ")}; ${dataset.height} px): train ` +
            'one from scratch ("start": "scratch")',
          409,
        );
      }
    }
    // The job's checkpoint replaces what an earlier preview showed.
    this.#dropCandidate();
    const estimate = await estimateTraining(this.gpu, r.config, dataset, recipe);
    const owner = {};
    this.budget.reserve(
      owner,
      estimateTotal(estimate),
      `a training job of batch ${recipe.batch}`,
      { waitable: true },
    );
    const scope = new AllocationScope(`training ${r.run}`);
    let trainer: Trainer;
    try {
      const gpu = withAllocations(this.gpu, scope);
      const model = r.start === "serving"
        ? await copyModel(this.gpu, served, gpu)
        : randomSpriteModel(gpu, r.config, recipe.seed, dataset.classNames);
      model.info = {
        ...model.info,
        data: source,
        ...(r.start === "serving" && { fine_tuned_from: r.base }),
      };
      trainer = await Trainer.create(gpu, model, dataset, recipe);
    } catch (e) {
      scope.destroy();
      this.budget.release(owner);
      throw e;
    }
    const store = new RunFolder(`${this.init.trainDir}/${r.run}`);
    const totalSteps = Math.min(recipe.epochs * trainer.stepsPerEpoch, r.maxSteps ?? Infinity);
    const job: Job = {
      view: {
        status: "running",
        start: r.start,
        base: r.base,
        recipe,
        note: r.note,
        run: r.run,
        checkpoint: `${r.run}/checkpoint`,
        progress: {
          step: 0,
          epoch: 0,
          stepsPerEpoch: trainer.stepsPerEpoch,
          totalSteps,
          loss: null,
          itPerSec: null,
          etaSeconds: null,
        },
        losses: [],
        error: null,
      },
      stop: false,
      finished: Promise.resolve(),
    };
    const logEvery = r.logEvery ?? Math.max(1, Math.min(10, Math.floor(trainer.stepsPerEpoch / 4)));
    const send = (event: "progress" | "epoch" | "end") => {
      post({ type: "stats", stats: this.stats() });
      post({ type: "training", event, job: job.view });
    };
    this.#job = job;
    job.finished = (async () => {
      try {
        await runTraining(trainer, store, {
          logEvery,
          stepLimit: totalSteps,
          shouldStop: () => job.stop,
          extra: {
            data: source,
            config_source: r.configSource,
            ...(r.start === "serving" && { fine_tuned_from: r.base }),
          },
          beforeStep: async () => {
            await this.queue.trainingTurn();
            this.#trainingSteps++;
            // The turn is the step's submission (synchronous, right after this resolves): passes
            // may go on during its readback and the checkpoints between epochs.
            setTimeout(() => this.queue.trainingPaused(), 0);
          },
          onLog: (l) => {
            job.view.progress = {
              ...job.view.progress,
              step: l.step,
              epoch: l.epoch,
              loss: l.loss,
              itPerSec: l.itPerSec,
              etaSeconds: (totalSteps - l.step) / l.itPerSec,
            };
            job.view.losses.push({ step: l.step, loss: l.loss });
            send("progress");
          },
          onEpoch: () => {
            job.view.progress.epoch = trainer.state.epoch;
            send("epoch");
          },
        });
        // A step limit reached is the job's end; only a stop request stops it.
        job.view.status = job.stop ? "stopped" : "done";
      } catch (e) {
        job.view.status = "failed";
        job.view.error = (e as Error).message;
        if (inputErrorStatus(e) === undefined) console.error("training job failed:", e);
      } finally {
        this.queue.trainingPaused();
        scope.destroy();
        this.budget.release(owner);
      }
      send("end");
    })();
    return job.view;
  }

  /** Starts an evaluation of the served model (routes/quality_job.ts); one at a time. */
  async #startQuality(settings: EvalSettings): Promise<QualityView> {
    if (this.#qualityStarting || this.#quality.status === "running") {
      throw new BusyError("an evaluation is already running (one at a time)");
    }
    this.#qualityStarting = true;
    try {
      const spec = this.#serving.spec;
      const { view, finished } = await startQuality({
        gpu: this.gpu,
        budget: this.budget,
        queue: this.queue,
        servingDir: spec.kind === "folder" ? spec.dir : undefined,
        servingName: this.#loaded.summary.source,
        classNames: this.#loaded.model.classNames,
        size: this.#sampler.size,
        trainingData: this.init.trainingData,
        send: (event, v, montages) => {
          const transfer = montages ? [montages.samples.buffer, montages.nearest.buffer] : [];
          post({ type: "quality", event, view: v, montages }, transfer as Transferable[]);
        },
        closing: () => this.#closing,
      }, settings);
      this.#quality = view;
      this.#qualityFinished = finished;
      return view;
    } finally {
      this.#qualityStarting = false;
    }
  }

  /** A swap or revert would change the model an evaluation is measuring half-way. */
  #refuseWhileMeasuring(): void {
    if (this.#quality.status === "running" || this.#qualityStarting) {
      throw new BusyError("an evaluation of the served model is running: wait for it to end");
    }
  }

  /**
   * Serves another checkpoint (the one a preview loaded, as it is); the model it replaces is
   * remembered as the previous one, and its programs and parameters are destroyed at once.
   */
  async #swap(m: { dir: string; source: string }): Promise<Swapped> {
    this.#refuseWhileMeasuring();
    const candidate = this.#candidate?.dir === m.dir ? this.#candidate : undefined;
    this.#candidate = undefined;
    const loaded = candidate?.loaded ??
      await load(this.gpu, this.budget, { kind: "folder", dir: m.dir }, m.source);
    this.#install(loaded, candidate?.sampler, {
      spec: { kind: "folder", dir: m.dir },
      source: m.source,
    });
    return this.#swapped();
  }

  /** Serves the previous model again; the current one becomes the previous. */
  async #revert(): Promise<Swapped> {
    this.#refuseWhileMeasuring();
    const previous = this.#previous;
    if (!previous) throw new BusyError("there is no previous model to go back to");
    const loaded = await load(this.gpu, this.budget, previous.spec, previous.source);
    this.#install(loaded, undefined, previous);
    return this.#swapped();
  }

  #swapped(): Swapped {
    const spec = this.#serving.spec;
    return {
      model: this.#loaded.summary,
      dir: spec.kind === "folder" ? spec.dir : undefined,
      previous: this.#previous?.source ?? null,
    };
  }

  #install(next: Loaded, sampler: SpriteSampler | undefined, served: Served): void {
    const old = this.#loaded;
    const oldSampler = this.#sampler;
    this.#previous = this.#serving;
    this.#serving = served;
    this.#loaded = next;
    this.#sampler = sampler ?? new SpriteSampler(this.gpu, next.model, { budget: this.budget });
    this.queue.sampler = this.#sampler;
    // The pass in flight (if any) keeps its program until it ends; the rest go now.
    oldSampler.close();
    if (!this.queue.busy) release(this.budget, old);
    else {
      queueMicrotask(async () => {
        while (this.queue.busy) await new Promise((r) => setTimeout(r, 50));
        release(this.budget, old);
      });
    }
  }

  /**
   * A per-class grid of the checkpoint in `dir`, made on a model of its own (kept until a swap
   * serves it, a new job starts, or another checkpoint is previewed), never on the served one.
   */
  async #preview(dir: string, source: string, r: PreviewRequest): Promise<Preview> {
    if (this.#candidate?.dir !== dir) {
      this.#dropCandidate();
      const loaded = await load(
        this.gpu,
        this.budget,
        { kind: "folder", dir },
        source,
        "a checkpoint being previewed",
      );
      try {
        const sampler = new SpriteSampler(this.gpu, loaded.model, { budget: this.budget });
        this.#candidate = { dir, loaded, sampler };
      } catch (e) {
        release(this.budget, loaded);
        throw e;
      }
    }
    const { loaded, sampler } = this.#candidate!;
    const names = loaded.model.classNames;
    const k = names.length;
    const labels = new Float32Array(k * r.perClass * k);
    for (let c = 0; c < k; c++) {
      labels.set(repeatVector(oneHot(k, c), r.perClass), c * r.perClass * k);
    }
    const started = performance.now();
    const { perClass, ...options } = r;
    const sprites = await sampler.generate({ labels, count: k * perClass, ...options });
    return { sprites, classNames: names, ms: Math.round(performance.now() - started) };
  }

  #dropCandidate(): void {
    const c = this.#candidate;
    this.#candidate = undefined;
    if (!c) return;
    c.sampler.close();
    release(this.budget, c.loaded);
  }

  /** Stops the job (its checkpoint is written), refuses what waits, and frees the device. */
  async close(): Promise<void> {
    this.#closing = true;
    const job = this.#job;
    if (job) {
      job.stop = true;
      await job.finished;
    }
    this.queue.rejectWaiting(new ShuttingDownError());
    await this.#qualityFinished;
    while (this.queue.busy) await new Promise((r) => setTimeout(r, 20));
    this.#dropCandidate();
    this.#sampler.close();
    release(this.budget, this.#loaded);
    this.gpu.device.destroy();
  }
}

function release(budget: MemoryBudget, loaded: Loaded): void {
  loaded.scope.destroy();
  budget.release(loaded);
}

/** A copy of `model`'s weights on `gpu` (a job's scoped device): the served model, to fine-tune. */
async function copyModel(from: Gpu, model: SpriteModel, gpu: Gpu): Promise<SpriteModel> {
  const where = "the served model";
  const files = encodeCheckpoint(where, await spriteModelCheckpoint(from, model));
  return spriteModelFromCheckpoint(gpu, decodeCheckpoint(where, files), where);
}

/** Loads a model with its parameters counted against the budget. */
async function load(
  device: Gpu,
  budget: MemoryBudget,
  spec: ModelSpec,
  source?: string,
  what = "the serving model",
): Promise<Loaded> {
  const scope = new AllocationScope("model");
  const gpu = withAllocations(device, scope);
  let model: SpriteModel;
  let shown: string;
  if (spec.kind === "folder") {
    model = await openModel(gpu, { model: spec.dir });
    shown = source ?? publicName(spec.dir);
  } else {
    const config = typeof spec.config === "string"
      ? await configFromSource(spec.config)
      : parseUNetConfig(spec.config as unknown as Record<string, unknown>);
    model = randomSpriteModel(gpu, config, spec.seed ?? 0, spec.classNames);
    shown = source ??
      `random init (${typeof spec.config === "string" ? publicName(spec.config) : "config"}, ` +
        "untrained)";
  }
  const loaded: Loaded = { model, scope, summary: describeModel(model, shown) };
  try {
    budget.reserve(loaded, scope.bytes, what);
  } catch (e) {
    scope.destroy();
    throw e;
  }
  return loaded;
}

let service: GpuService | undefined;
const early: ToWorker[] = [];

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  if (m.type === "init") {
    GpuService.start(m.init).then((s) => {
      service = s;
      const gpu = s.gpu;
      post({
        type: "ready",
        // The adapter itself ("llvmpipe (...) [cpu, llvmpipe profile]"): the word "adapter" is the
        // key's, not the value's.
        adapter: adapterLine(gpu).replace(/^adapter: /, ""),
        adapterKind: gpu.adapterKind,
        model: s.model,
        stats: s.stats(),
      });
      for (const e of early.splice(0)) dispatch(s, e);
    }, async (e) => {
      // The device goes first: the HTTP side exits as soon as it hears, and a process that exits
      // while a worker's device is live can crash on the way out (exit 134, not the error's 2).
      const error = wireError(e);
      await getGpu().then((g) => g.device.destroy(), () => {});
      post({ type: "init-failed", error });
      self.close();
    });
    return;
  }
  if (!service) early.push(m);
  else dispatch(service, m);
};

function dispatch(s: GpuService, m: ToWorker): void {
  s.handle(m).catch((e) => {
    if ("id" in m) post({ type: "reply", id: m.id, error: wireError(e) });
  });
}
