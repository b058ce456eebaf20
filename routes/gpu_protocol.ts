// The messages between the HTTP side of the service and its GPU worker (routes/gpu_worker.ts), which
// owns the device, the serving model, its sampler queue and the training job. Everything in them is
// plain data (structured-clonable); requests carry an id their reply repeats.
import type { QualityReport } from "../data/eval_files.ts";
import type { EvalSettings } from "../gpu/eval/evaluate.ts";
import type { UNetConfig } from "../gpu/model/config.ts";
import type { TrainRecipe } from "../gpu/train/recipe.ts";
import type { GenerationJob, QueueStats } from "./generation_queue.ts";

/** Which model the worker serves. */
export type ModelSpec =
  | { kind: "folder"; dir: string }
  /** A freshly initialised model: a preset name, a config.json path, or the config itself. */
  | { kind: "random"; config: string | UNetConfig; seed?: number; classNames?: string[] };

export interface WorkerInit {
  model: ModelSpec;
  precision: "f32" | "f16";
  /** Sprites one merged pass may hold. */
  maxBatch: number;
  /** The memory budget in bytes; absent: the default from the adapter and the host. */
  memoryBudgetBytes?: number;
  /** Where training jobs write their run folders. */
  trainDir: string;
  /** What training jobs train on (default: the bundled set, cleaned). */
  trainingData?: { sprites: string | null; labels: string | null; clean: boolean };
}

/** What the HTTP side knows of the serving model (no GPU objects). */
export interface ServingModel {
  config: UNetConfig;
  classNames: string[];
  /** sprite_diffusion.json, with file paths cut to their names. */
  info: Record<string, unknown>;
  parameters: { unet: number; embedding: number; total: number };
  /** Where it came from, as shown to clients (a folder's name, never an absolute path). */
  source: string;
  /** The files it was trained on (the bundled set unless its checkpoint names others): for the
   * server's /api/dataset only, never shown. */
  trainingFiles: { sprites: string; labels: string };
}

/** A training job, as GET /api/train shows it. */
export interface JobView {
  status: "running" | "stopping" | "done" | "stopped" | "failed";
  /** "serving": a fine-tune of the served model; "scratch": a new model from a preset. */
  start: "serving" | "scratch";
  /** What it started from: the served model's name, or "compact preset, random init". */
  base: string;
  recipe: TrainRecipe;
  /** A word about the recipe (an embedding that never freezes), or null. */
  note: string | null;
  /** The run folder's name under the training folder. */
  run: string;
  /** `<run>/checkpoint`: where its checkpoint is, relative to the training folder. */
  checkpoint: string;
  progress: Progress;
  losses: { step: number; loss: number }[];
  error: string | null;
}

export interface Progress {
  step: number;
  epoch: number;
  stepsPerEpoch: number;
  totalSteps: number;
  loss: number | null;
  itPerSec: number | null;
  etaSeconds: number | null;
}

/** A training job as the HTTP side asks for it: the parsed recipe and the run's limits. */
export interface TrainRequest {
  /** "serving": start from a copy of the served model's weights; "scratch": a random init. */
  start: "serving" | "scratch";
  /** What it starts from, as shown (JobView.base). */
  base: string;
  /** Where the config came from, as the run's checkpoint records it (`config_source`). */
  configSource: string;
  note: string | null;
  config: UNetConfig;
  recipe: TrainRecipe;
  /** `precision: "auto"`: the worker picks the adapter's choice. */
  autoPrecision: boolean;
  /** Read the loss back every N steps; absent: a quarter epoch, at most 10. */
  logEvery?: number;
  maxSteps?: number;
  /** The run folder's name (under WorkerInit.trainDir). */
  run: string;
}

/** The sampler's settings for a preview's per-class grid: `perClass` sprites of each class. */
export interface PreviewRequest {
  perClass: number;
  steps: number;
  eta: number;
  seed: number;
  guidance: number;
  scheduler: "ddim" | "ddpm";
}

export interface Preview {
  /** uint8 [classes x perClass, H, W, 3], class by class. */
  sprites: Uint8Array;
  classNames: string[];
  ms: number;
}

/** What a swap or a revert answers: the model now served, where from, and the one before it. */
export interface Swapped {
  model: ServingModel;
  /** Its folder (undefined for a random init). */
  dir?: string;
  /** The previous model's name (POST /api/train/revert serves it again). */
  previous: string | null;
}

/** Where an evaluation of the served model is: a stage of gpu/eval/evaluate.ts, done of total. */
export interface QualityProgress {
  done: number;
  total: number;
  phase: string;
}

/** The last evaluation of the served model (POST /api/quality), as GET /api/quality shows it. */
export interface QualityView {
  status: "idle" | "running" | "done" | "failed";
  settings: EvalSettings | null;
  /** The served model's name when it started. */
  model: string | null;
  progress: QualityProgress | null;
  /** When done: report.json's contents, and the table `deno task eval` prints. */
  report: QualityReport | null;
  table: string | null;
  error: string | null;
}

/** An evaluation's montages as PNG bytes (data/eval_files.ts's evalMontages). */
export interface QualityMontages {
  samples: Uint8Array;
  nearest: Uint8Array;
}

export interface MemoryStats {
  budgetBytes: number;
  usedBytes: number;
  peakBytes: number;
  /** Bytes the sampler's programs hold as allocated, and how many are built. */
  programBytes: number;
  programs: number;
  holders: { what: string; bytes: number }[];
}

export interface WorkerStats {
  queue: QueueStats;
  memory: MemoryStats;
  trainingSteps: number;
}

/** An error sent across: `status` for bad input (the HTTP status), absent for a bug. */
export interface WireError {
  message: string;
  status?: number;
  /** The request was dropped because its client had gone. */
  cancelled?: boolean;
}

export type ToWorker =
  | { type: "init"; init: WorkerInit }
  /**
   * `progress`: send generation-progress messages for it (its pass then submits a step at a time).
   * `keep`: keep the result for the same request later (GenerationQueue.generate).
   */
  | { type: "generate"; id: number; job: GenerationJob; progress?: boolean; keep?: boolean }
  | { type: "cancel"; id: number }
  | { type: "train"; id: number; request: TrainRequest }
  | { type: "stop-training"; id: number }
  /** Serve the checkpoint in `dir` (shown as `source`); the model it replaces becomes `previous`. */
  | { type: "swap"; id: number; dir: string; source: string }
  /** Serve the previous model again (and the current one becomes the previous). */
  | { type: "revert"; id: number }
  /** A per-class grid of the checkpoint in `dir`, without serving it (kept loaded for a swap). */
  | { type: "preview"; id: number; dir: string; source: string; request: PreviewRequest }
  /** Evaluate the served model with its kept classifier; the reply is the running view. */
  | { type: "quality"; id: number; settings: EvalSettings }
  /**
   * Stop the job, free the device; `exiting`: the process exits next, so the worker stays as it is
   * (its teardown would unload the Vulkan driver while the exiting thread runs the driver's exit
   * handlers: a segfault after "stopped").
   */
  | { type: "close"; id: number; exiting?: boolean };

export type FromWorker =
  | {
    type: "ready";
    adapter: string;
    adapterKind: "cpu" | "gpu";
    model: ServingModel;
    stats: WorkerStats;
  }
  | { type: "init-failed"; error: WireError }
  | { type: "reply"; id: number; value?: unknown; error?: WireError }
  | { type: "generation-progress"; id: number; done: number; total: number }
  | { type: "stats"; stats: WorkerStats }
  | { type: "training"; event: "progress" | "end" | "epoch"; job: JobView }
  /** An evaluation's progress, and its end (with the montages when it is done). */
  | { type: "quality"; event: "progress" | "end"; view: QualityView; montages?: QualityMontages }
  | { type: "closed" };
