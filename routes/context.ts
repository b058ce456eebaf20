// What every route sees: the serving model and its sampler queue, the limits, the training switch.
// Its own module so that routes/app.ts can import the routes without the routes importing it.
import type { Gpu } from "../gpu/runtime/device.ts";
import type { SpriteModel } from "../gpu/model/sprite_model.ts";
import type { SamplingLimits } from "../gpu/sample/request.ts";
import type { GenerationQueue } from "./generation_queue.ts";

/** The server's bounds on one sampling request: stricter than the CLI's, for a shared GPU. */
export const SERVER_SAMPLING_LIMITS: SamplingLimits = {
  maxCount: 64,
  maxPerClass: 16,
  maxScale: 16,
};

/** The sampling request's limits (maxCount, maxPerClass, maxScale), and the server's own. */
export interface Limits extends SamplingLimits {
  /** Sprites one merged GPU pass may hold. */
  maxBatch: number;
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  ...SERVER_SAMPLING_LIMITS,
  maxBatch: 128,
  maxBodyBytes: 64 * 1024,
};

/** What the routes see: the current model may be swapped by the training routes. */
export interface AppContext {
  gpu: Gpu;
  model: SpriteModel;
  modelDir?: string;
  queue: GenerationQueue;
  limits: Limits;
  allowTrain: boolean;
  token?: string;
  trainDir: string;
  startedAt: number;
  /** Replaces the serving model; passes already queued finish on the old one's sampler. */
  swapModel(model: SpriteModel, dir?: string): void;
  /** Cleanup hooks run by `close` (a training job stops, ...). */
  onClose: (() => Promise<void>)[];
}
