// What every route sees: the GPU worker and the model it serves, the limits, the training switch and
// the names the server answers to. Its own module so that routes/app.ts can import the routes
// without the routes importing it.
import type { SamplingLimits } from "../gpu/sample/request.ts";
import type { GpuWorker } from "./gpu_client.ts";
import type { ServingModel } from "./gpu_protocol.ts";

/** The server's bounds on one sampling request: stricter than the CLI's, for a shared GPU. */
export const SERVER_SAMPLING_LIMITS: SamplingLimits = {
  maxCount: 64,
  maxPerClass: 16,
  maxScale: 16,
};

/** UNet item-steps one request may ask for (sprites x steps, x2 with guidance), by adapter. */
export const DEFAULT_MAX_WORK = { cpu: 8_192, gpu: 131_072 } as const;

/** The sampling request's limits (maxCount, maxPerClass, maxScale, maxWork), and the server's own. */
export interface Limits extends SamplingLimits {
  /** Sprites one merged GPU pass may hold. */
  maxBatch: number;
  maxBodyBytes: number;
  /** The most a request body may take to arrive. */
  bodyTimeoutMs: number;
  /** Web training runs kept in the training folder; a new job past it is refused. */
  maxRuns: number;
}

export const DEFAULT_LIMITS: Limits = {
  ...SERVER_SAMPLING_LIMITS,
  maxBatch: 128,
  maxBodyBytes: 64 * 1024,
  bodyTimeoutMs: 10_000,
  maxRuns: 8,
};

/** Host names a server answers to unless told others: loopback. */
export const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1"];

/** What the routes see. */
export interface AppContext {
  worker: GpuWorker;
  /** The model the worker serves (swapped by the training routes). */
  readonly model: ServingModel;
  /** The adapter, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) [cpu, llvmpipe profile]". */
  adapter: string;
  limits: Limits;
  allowTrain: boolean;
  token?: string;
  trainDir: string;
  /** The folder the serving model was loaded from (undefined for a random init). */
  servingDir?: string;
  /** The folder of the model the last swap or revert replaced (undefined for a random init). */
  previousDir?: string;
  /** Host names (without port) the Host header may carry; lower case. */
  allowedHosts: readonly string[];
  startedAt: number;
  /** A training job is being started: set before the first await, so only one can be. */
  trainingStarting: boolean;
  /** Cleanup hooks run by `close`. */
  onClose: (() => Promise<void>)[];
}
