// The HTTP side's handle on the GPU worker (routes/gpu_worker.ts): requests out, replies, sprites,
// training events and stats back. It keeps the latest stats and training state itself, so that
// /api/health and GET /api/train answer without waiting for a worker busy with a pass.
import { ClientGoneError, InputError } from "../errors.ts";
import type { EvalSettings } from "../gpu/eval/evaluate.ts";
import type { Generated, GenerationJob, GenerationProgress } from "./generation_queue.ts";
import type {
  FromWorker,
  JobView,
  Preview,
  PreviewRequest,
  QualityMontages,
  QualityView,
  ServingModel,
  Swapped,
  ToWorker,
  TrainRequest,
  WireError,
  WorkerInit,
  WorkerStats,
} from "./gpu_protocol.ts";
// The worker's module is loaded by URL at run time; this (erased) import puts it in the graph that
// `deno check main.ts` checks.
import type {} from "./gpu_worker.ts";

/** The worker stopped (a crash): every request is answered 503 from then on. */
export class WorkerDownError extends Error {}

function toError(e: WireError): Error {
  if (e.cancelled) return new ClientGoneError();
  if (e.status !== undefined) return new InputError(e.message, e.status);
  return new Error(e.message);
}

type QualityListener = (event: "progress" | "end", view: QualityView) => void;

type TrainingListener = (event: "progress" | "epoch" | "end", job: JobView) => void;

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

export class GpuWorker {
  #worker: Worker;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Set<TrainingListener>();
  #qualityListeners = new Set<QualityListener>();
  #progress = new Map<number, GenerationProgress>();
  #down?: string;
  #closing = false;
  #closed?: Promise<void>;
  stats: WorkerStats;
  /** The last training job's state as the worker last sent it. */
  job?: JobView;
  model: ServingModel;
  /** The last evaluation's state as the worker last sent it, and its montages once done. */
  quality?: QualityView;
  montages?: QualityMontages;
  /** The model served before the last swap or revert (POST /api/train/revert serves it again). */
  previous: string | null = null;

  private constructor(
    worker: Worker,
    readonly adapter: string,
    readonly adapterKind: "cpu" | "gpu",
    model: ServingModel,
    stats: WorkerStats,
  ) {
    this.#worker = worker;
    this.model = model;
    this.stats = stats;
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.#receive(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      this.#fail(`the GPU worker stopped: ${e.message}`);
    };
  }

  /** Starts the worker and loads the model; bad input (no such model) throws InputError. */
  static start(init: WorkerInit): Promise<GpuWorker> {
    const worker = new Worker(new URL("./gpu_worker.ts", import.meta.url), { type: "module" });
    return new Promise((resolve, reject) => {
      worker.onerror = (e) => {
        e.preventDefault();
        worker.terminate();
        reject(new Error(`the GPU worker failed to start: ${e.message}`));
      };
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === "ready") {
          resolve(new GpuWorker(worker, m.adapter, m.adapterKind, m.model, m.stats));
        } else if (m.type === "init-failed") {
          // It has destroyed its device and closes itself; the process may exit as soon as this
          // rejects, and one that exits while the worker is still tearing down its GPU context
          // can crash on the way out (a segfault instead of the error's exit 2), so it is given
          // the moment its normal close gets too.
          setTimeout(() => {
            worker.terminate();
            reject(toError(m.error));
          }, 50);
        }
      };
      worker.postMessage({ type: "init", init } satisfies ToWorker);
    });
  }

  get down(): string | undefined {
    return this.#down;
  }

  /**
   * Sprites for one request, with its pass's time and its wait; an aborted `signal` (the client
   * has gone) cancels it if it waits. `onProgress` hears (0, steps) when its pass begins, then
   * (k, steps) after each step.
   */
  generate(
    job: GenerationJob,
    signal?: AbortSignal,
    onProgress?: GenerationProgress,
  ): Promise<Generated> {
    return this.#generate(job, signal, onProgress, false);
  }

  /** `generate`, keeping the result for the same request later (the page's first grids). */
  prepare(job: GenerationJob): Promise<Generated> {
    return this.#generate(job, undefined, undefined, true);
  }

  #generate(
    job: GenerationJob,
    signal: AbortSignal | undefined,
    onProgress: GenerationProgress | undefined,
    keep: boolean,
  ): Promise<Generated> {
    const { id, reply } = this.#request<Generated>((id) => {
      if (onProgress) this.#progress.set(id, onProgress);
      return { type: "generate", id, job, progress: onProgress !== undefined, keep };
    });
    if (onProgress) reply.finally(() => this.#progress.delete(id)).catch(() => {});
    if (signal) {
      const cancel = () => this.#post({ type: "cancel", id });
      if (signal.aborted) cancel();
      else signal.addEventListener("abort", cancel, { once: true });
      reply.finally(() => signal.removeEventListener("abort", cancel)).catch(() => {});
    }
    return reply;
  }

  train(request: TrainRequest): Promise<JobView> {
    return this.#request<JobView>((id) => ({ type: "train", id, request })).reply.then((job) => {
      this.job = job;
      return job;
    });
  }

  stopTraining(): Promise<JobView | null> {
    return this.#request<JobView | null>((id) => ({ type: "stop-training", id })).reply;
  }

  /** Serves the checkpoint in `dir`, shown to clients as `source`; the old model is kept. */
  async swap(dir: string, source: string): Promise<Swapped> {
    return this.#served(
      await this.#request<Swapped>((id) => ({ type: "swap", id, dir, source })).reply,
    );
  }

  /** Serves the previous model again (409 when there is none). */
  async revert(): Promise<Swapped> {
    return this.#served(await this.#request<Swapped>((id) => ({ type: "revert", id })).reply);
  }

  #served(s: Swapped): Swapped {
    this.model = s.model;
    this.previous = s.previous;
    return s;
  }

  /** A per-class grid of the checkpoint in `dir`, made without serving it. */
  preview(dir: string, source: string, request: PreviewRequest): Promise<Preview> {
    return this.#request<Preview>((id) => ({ type: "preview", id, dir, source, request })).reply;
  }

  /** Starts an evaluation of the served model (409: one runs, or there is no classifier). */
  async measure(settings: EvalSettings): Promise<QualityView> {
    // The worker replies before the evaluation's first progress message.
    this.quality = await this.#request<QualityView>((id) => ({ type: "quality", id, settings }))
      .reply;
    return this.quality;
  }

  onQuality(listener: QualityListener): () => void {
    this.#qualityListeners.add(listener);
    return () => this.#qualityListeners.delete(listener);
  }

  onTraining(listener: TrainingListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stops the training job (its checkpoint is written), then the worker and its device. `exiting`:
   * the process exits right after (Deno.exit), and the worker is left standing, device freed: a
   * worker torn down while the process exits unloads the Vulkan driver under the exit handlers
   * the driver registered, and the process ends in a segfault (exit 139 after "stopped"; a core
   * showed exit() calling into the unmapped driver while the worker thread was in libEGL_mesa).
   */
  close(options: { exiting?: boolean } = {}): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#down) return this.#worker.terminate();
      const closed = new Promise<void>((resolve) => this.#onClosed = resolve);
      this.#request((id) => ({ type: "close", id, exiting: options.exiting })).reply.catch(
        () => {},
      );
      this.#closing = true;
      await closed;
      if (options.exiting) return;
      // The worker closes itself after destroying its device; a late terminate is harmless.
      await new Promise((r) => setTimeout(r, 20));
      this.#worker.terminate();
    })();
    return this.#closed;
  }

  #onClosed?: () => void;

  #request<T>(make: (id: number) => ToWorker): { id: number; reply: Promise<T> } {
    const id = this.#nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      if (this.#down) return reject(new InputError(this.#down, 503));
      if (this.#closing) return reject(new InputError("the server is shutting down", 503));
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#post(make(id));
    });
    return { id, reply };
  }

  #post(m: ToWorker): void {
    if (!this.#down) this.#worker.postMessage(m);
  }

  #receive(m: FromWorker): void {
    if (m.type === "reply") {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (!p) return;
      if (m.error) p.reject(toError(m.error));
      else p.resolve(m.value);
    } else if (m.type === "generation-progress") {
      this.#progress.get(m.id)?.(m.done, m.total);
    } else if (m.type === "stats") {
      this.stats = m.stats;
    } else if (m.type === "training") {
      this.job = m.job;
      for (const l of this.#listeners) l(m.event, m.job);
    } else if (m.type === "quality") {
      this.quality = m.view;
      if (m.event === "end" && m.montages) this.montages = m.montages;
      for (const l of this.#qualityListeners) l(m.event, m.view);
    } else if (m.type === "closed") {
      for (const p of this.#pending.values()) {
        p.reject(new InputError("the server is shutting down", 503));
      }
      this.#pending.clear();
      this.#onClosed?.();
    }
  }

  #fail(reason: string): void {
    console.error(reason);
    this.#down = reason;
    for (const p of this.#pending.values()) p.reject(new InputError(reason, 503));
    this.#pending.clear();
    this.#onClosed?.();
  }
}
