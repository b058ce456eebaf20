// The training loop's GPU side: the recipe, the state a run resumes from, and the Trainer, which
// submits one command buffer per step (gpu/train/step.ts) and reads the loss back only every
// `logEvery` steps. Per step the host writes the batch indices, [seed, step] and AdamW's hyper.
// Everything random is a function of (seed, step) or (seed, epoch), so a resumed run repeats an
// uninterrupted one exactly.
import { BalancedSampler } from "./balanced_sampler.ts";
import { classIndices, type SpriteDataset } from "./dataset.ts";
import { adamwHyper } from "../ops/adamw.ts";
import type { Gpu } from "../runtime/device.ts";
import { CheckpointError } from "../runtime/errors.ts";
import { encode, runNow } from "../runtime/kernel.ts";
import type { LossScaleState } from "../ops/loss_scale.ts";
import { setSeed } from "../runtime/random.ts";
import type { SpriteModel } from "../model/sprite_model.ts";
import { readback, upload } from "../runtime/tensor.ts";
import type { TrainRecipe } from "./recipe.ts";
import { createEma, type EmaWeights } from "./ema.ts";
import { emaDecayAt, learningRateAt } from "./schedule.ts";
import { buildTrainingStep, type TrainingStep } from "./step.ts";
import type { UNetConfig } from "../model/config.ts";
import { createParamStore, unetParamSpecs } from "../model/params.ts";
import { classEmbeddingParamSpecs } from "../model/class_embedding.ts";
import { embeddingFor } from "../model/sprite_model.ts";
import { dryRunAllocations, type MemoryEstimate } from "../runtime/memory.ts";

/** Where training stands; with the recipe and the optimizer state it resumes a run exactly. */
export interface TrainingState {
  /** Epochs completed. */
  epoch: number;
  /** Steps done inside epoch `epoch` (0 at an epoch boundary; > 0 after a stop mid-epoch). */
  stepInEpoch: number;
  /** Optimizer steps done in all. */
  step: number;
  /** Sum of the per-step losses of the steps done in epoch `epoch`. */
  epochLossSum: number;
  /** f16 runs: the loss scale and its counters as last read from the GPU. */
  lossScale?: LossScaleState;
}

export const initialState = (): TrainingState => ({
  epoch: 0,
  stepInEpoch: 0,
  step: 0,
  epochLossSum: 0,
});

/** The counter-based GPU RNG gets a seed of its own, derived from the recipe's. */
export const gpuSeedOf = (seed: number) => (seed ^ 0x5851f42d) >>> 0;

/** A NaN or infinite loss: training stops before anything more is saved. */
export class TrainingDivergedError extends Error {
  /** Set by the epoch loop: where the last good checkpoint stands, if one was written. */
  lastSaved?: { epoch: number; step: number };
  constructor(readonly step: number, readonly epoch: number, readonly loss: number) {
    super(`the loss became ${loss} by step ${step} (epoch ${epoch + 1})`);
    this.name = "TrainingDivergedError";
  }
}

export interface EpochOptions {
  /** Read the loss back every N steps (and at the end of the call). */
  logEvery: number;
  /** Checked after every step: true reads the loss back and returns. */
  shouldStop?: () => boolean;
  /** Stop once this many optimizer steps are done in all. */
  stepLimit?: number;
  onLog?: (log: StepLog) => void;
  /**
   * Awaited before every step: where a service lets other GPU work (a generation pass) run between
   * training steps, and where a stop asked for meanwhile is seen.
   */
  beforeStep?: () => Promise<void>;
}

export interface StepLog {
  epoch: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  step: number;
  /** Mean loss of the steps since the last readback. */
  loss: number;
  /** Steps per second since the last readback (its wait included). */
  itPerSec: number;
  /** f16 runs: the loss scale and the steps skipped on overflow so far. */
  lossScale?: LossScaleState;
}

export interface EpochResult {
  /** False when stopped early (shouldStop or stepLimit). */
  finished: boolean;
  /** Mean loss over the epoch's steps so far (those before a resume included). */
  meanLoss: number;
  steps: number;
  seconds: number;
}

/**
 * What a new run of `config` on `dataset` holds, before anything is built: the model, its optimizer
 * moments, the step's activations and the uploaded data on the device (a dry run of the builders
 * against a counting device), and on the host the dataset's copy plus what a checkpoint reads back
 * and encodes (weights and both moments, twice).
 */
export async function estimateTraining(
  gpu: Gpu,
  config: UNetConfig,
  dataset: SpriteDataset,
  recipe: TrainRecipe,
): Promise<MemoryEstimate> {
  let parameters = 0;
  const count = await dryRunAllocations(gpu, async (g) => {
    const embedding = embeddingFor(config, dataset.classNames.length, recipe.embDropout);
    const model: SpriteModel = {
      config: { ...config, dropout: recipe.dropout },
      embedding,
      unetParams: createParamStore(g, unetParamSpecs(config), "unet"),
      embeddingParams: createParamStore(g, classEmbeddingParamSpecs(embedding), "emb"),
      classNames: dataset.classNames,
      info: {},
    };
    parameters = model.unetParams.layout.totalElements +
      model.embeddingParams!.layout.totalElements;
    await buildTrainingStep(g, model, dataset, recipe);
  });
  const datasetBytes = dataset.images.byteLength + dataset.labels.byteLength;
  return { deviceBytes: count.bytes, hostBytes: datasetBytes + 2 * 3 * parameters * 4 };
}

export class Trainer {
  readonly stepsPerEpoch: number;
  readonly state: TrainingState;
  /** The learning rate of the last step run (the recipe's before any). */
  lastLr: number;

  private constructor(
    readonly gpu: Gpu,
    readonly model: SpriteModel,
    readonly recipe: TrainRecipe,
    state: TrainingState,
    readonly step: TrainingStep,
    private readonly sampler: BalancedSampler,
    /** With recipe.emaDecay > 0: the averaged weights (a checkpoint's model). */
    readonly ema?: EmaWeights,
  ) {
    this.lastLr = recipe.lr;
    this.state = { ...state };
    this.stepsPerEpoch = sampler.samplesPerEpoch / recipe.batch;
  }

  /**
   * Uploads the (already cleaned) dataset and builds the step. The model's config and embedding
   * options take the recipe's dropouts (and are saved with them).
   */
  static async create(
    gpu: Gpu,
    model: SpriteModel,
    dataset: SpriteDataset,
    recipe: TrainRecipe,
    state: TrainingState = initialState(),
  ): Promise<Trainer> {
    const classes = model.embedding.inFeatures;
    const size = model.config.sample_size;
    if (dataset.height !== size || dataset.width !== size || model.config.in_channels !== 3) {
      throw new Error(
        `trainer: ${dataset.height}x${dataset.width} RGB sprites for a model of sample_size ` +
          `${size} with ${model.config.in_channels} input channels`,
      );
    }
    if (dataset.classNames.length !== classes) {
      throw new Error(`trainer: ${dataset.classNames.length} classes, the model has ${classes}`);
    }
    // Copies: the config may be a shared preset object.
    model.config = { ...model.config, dropout: recipe.dropout };
    model.embedding = { ...model.embedding, dropout: recipe.embDropout };
    const sampler = new BalancedSampler(classIndices(dataset), {
      batchSize: recipe.batch,
      seed: recipe.seed,
      numClasses: classes,
      uniform: recipe.sampling === "uniform",
    });
    const stepsPerEpoch = sampler.samplesPerEpoch / recipe.batch;
    if (state.stepInEpoch >= stepsPerEpoch || state.step < state.stepInEpoch) {
      throw new CheckpointError(
        `the training state is at step ${state.stepInEpoch} of epoch ${state.epoch + 1} (step ` +
          `${state.step} in all), but an epoch of this run has ${stepsPerEpoch} steps`,
      );
    }
    const step = await buildTrainingStep(gpu, model, dataset, recipe);
    if (step.scaler && state.lossScale) step.scaler.set(state.lossScale);
    // The average starts as the model's weights: on a resume those are the saved average, and the
    // raw weights are loaded after (data/run_folder.ts's loadOptimizerState).
    let ema: EmaWeights | undefined;
    if (recipe.emaDecay > 0) {
      ema = await createEma(gpu, [model.unetParams, model.embeddingParams!]);
      await runNow(gpu, ema.reset);
    }
    return new Trainer(gpu, model, recipe, state, step, sampler, ema);
  }

  /** Whether the current epoch runs with the embedding frozen (and class vectors masked). */
  get embeddingFrozen(): boolean {
    return this.state.epoch >= this.recipe.freezeEpoch;
  }

  get done(): boolean {
    return this.state.epoch >= this.recipe.epochs;
  }

  /** Runs the rest of the current epoch (or until stopped), reading the loss back as it goes. */
  async runEpoch(o: EpochOptions): Promise<EpochResult> {
    const { gpu, state, recipe, step } = this;
    const B = recipe.batch;
    const order = this.sampler.epoch(state.epoch);
    const program = this.embeddingFrozen ? step.frozen : step.warmUp;
    const totalSteps = recipe.epochs * this.stepsPerEpoch;
    const started = performance.now();
    let windowStart = started;
    let window = 0;
    let steps = 0;
    upload(gpu, step.lossSum, new Float32Array(1));
    while (state.stepInEpoch < this.stepsPerEpoch) {
      await o.beforeStep?.();
      // A stop asked for during the last readback's wait or beforeStep (when other code runs).
      if (o.shouldStop?.() || (o.stepLimit !== undefined && state.step >= o.stepLimit)) break;
      const k = state.stepInEpoch;
      upload(gpu, step.indices, order.subarray(k * B, (k + 1) * B));
      setSeed(gpu, step.seed, gpuSeedOf(recipe.seed), state.step);
      this.lastLr = learningRateAt(recipe, state.step, totalSteps);
      const adamw = { lr: this.lastLr, weightDecay: recipe.weightDecay };
      upload(gpu, step.hyper, adamwHyper(adamw, state.step + 1));
      if (this.ema) {
        upload(gpu, this.ema.decay, Float32Array.of(emaDecayAt(recipe.emaDecay, state.step + 1)));
      }
      const encoder = gpu.device.createCommandEncoder();
      encode(encoder, program);
      if (this.ema) encode(encoder, this.ema.update);
      gpu.device.queue.submit([encoder.finish()]);
      state.step++;
      state.stepInEpoch++;
      steps++;
      window++;
      const stop = (o.shouldStop?.() ?? false) ||
        (o.stepLimit !== undefined && state.step >= o.stepLimit);
      if (window === o.logEvery || state.stepInEpoch === this.stepsPerEpoch || stop) {
        const sum = (await readback(gpu, step.lossSum))[0];
        upload(gpu, step.lossSum, new Float32Array(1));
        if (!Number.isFinite(sum)) throw new TrainingDivergedError(state.step, state.epoch, sum);
        state.epochLossSum += sum;
        if (step.scaler) state.lossScale = await step.scaler.read();
        const now = performance.now();
        o.onLog?.({
          epoch: state.epoch,
          stepInEpoch: state.stepInEpoch,
          stepsPerEpoch: this.stepsPerEpoch,
          step: state.step,
          loss: sum / window,
          itPerSec: window / ((now - windowStart) / 1000),
          lossScale: state.lossScale,
        });
        windowStart = now;
        window = 0;
      }
      if (stop) break;
    }
    const finished = state.stepInEpoch === this.stepsPerEpoch;
    const meanLoss = state.epochLossSum / Math.max(1, state.stepInEpoch);
    if (finished) {
      state.epoch++;
      state.stepInEpoch = 0;
      state.epochLossSum = 0;
    }
    return { finished, meanLoss, steps, seconds: (performance.now() - started) / 1000 };
  }
}
