// The GPU's schedule in the service's worker (routes/gpu_worker.ts): sampling requests and the
// training job's steps share one device, generation first.
//
// Sampling requests wait in arrival order; a pass takes the oldest one plus every waiting request
// with the same (steps, eta, guidance, scheduler), up to `maxBatch` sprites and as many as the
// memory budget holds, and runs them as one batch. Each request keeps its own seed through the
// sampler's per-item seeds, so merging never changes the bytes a request gets. A request whose
// client has gone (its signal aborted) is dropped before its pass. Each request learns the pass it
// was made in (its time, how many requests and sprites it held) and how long it waited for it, and
// one that asks for progress hears (0, steps) when its pass begins and (k, steps) after each step.
//
// Training steps wait for their turn (`trainingTurn`) before each step: at once while no pass is
// waiting, otherwise after the pass in progress once `passesPerStep` passes have run since the
// last step, so a stream of requests slows training down but never stops it.
import type { SampleRequest, SpriteSampler } from "../gpu/sample/sampler.ts";

export type GenerationJob = Omit<SampleRequest, "itemSeeds">;

/** Steps done of steps: (0, total) when the request's pass begins, then after every step. */
export type GenerationProgress = (done: number, total: number) => void;

/** A request's sprites and where its time went. */
export interface Generated {
  /** uint8 [count, H, W, 3]. */
  sprites: Uint8Array;
  /** The GPU pass that made them: its milliseconds (a new program's build included), its size. */
  pass: { ms: number; requests: number; sprites: number };
  /** Milliseconds between the request's arrival and the start of its pass. */
  waitedMs: number;
  /** Made ahead of the request, by a pass the service ran at its start (`keep`): no wait, no pass. */
  prepared?: true;
}

/**
 * What identifies a request's bytes: its classes, size, seed and scalars (same request, same
 * sprites, whatever it is merged with). Null for one with its own starting noise, never kept.
 */
export function jobKey(j: GenerationJob): string | null {
  if (j.latents) return null;
  const labels = Array.from(j.labels.subarray(0, j.labels.length));
  return JSON.stringify([labels, j.count, j.steps, j.eta, j.seed, j.guidance, j.scheduler]);
}

/** A request dropped before its pass because its client went away. */
export class GenerationCancelledError extends Error {
  constructor() {
    super("the request was cancelled before its pass");
    this.name = "GenerationCancelledError";
  }
}

interface Waiting {
  job: GenerationJob;
  signal?: AbortSignal;
  onProgress?: GenerationProgress;
  arrived: number;
  resolve: (made: Generated) => void;
  reject: (e: unknown) => void;
}

export interface QueueStats {
  passes: number;
  requests: number;
  /** The most requests one pass has served. */
  largestMerge: number;
  waiting: number;
  /** Requests dropped before their pass because their client had gone. */
  cancelled: number;
  /** Training steps given a turn while requests were waiting. */
  trainingTurns: number;
  /** Requests answered with sprites made ahead of them (`keep`), without a pass. */
  prepared: number;
}

/** Requests that may share a pass: the same program and scalars, and noise of their own or not. */
function passKey(j: GenerationJob): string {
  return [j.steps, j.eta, j.guidance, j.scheduler, j.latents ? "latents" : "drawn"].join("|");
}

/** One turn of the event loop, so that messages and timers queued meanwhile are handled. */
export const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

export class GenerationQueue {
  #waiting: Waiting[] = [];
  #running = false;
  #stats = {
    passes: 0,
    requests: 0,
    largestMerge: 0,
    cancelled: 0,
    trainingTurns: 0,
    prepared: 0,
  };
  /** Results kept for the requests the service expects first (the page's grids), by `jobKey`. */
  #kept = new Map<string, Generated>();
  #sampler: SpriteSampler;
  /** The training loop waiting for its next step. */
  #training?: () => void;
  /** Wakes the pass loop when the training step it let through has been submitted. */
  #resume?: () => void;
  #passesSinceStep = 0;

  /**
   * `gatherMs`: how long an idle worker waits before a pass, so requests sent together (the page
   * asks for five grids at once, over as many connections) share it. `passesPerStep`: passes in a row before a waiting
   * training step gets a turn.
   */
  constructor(
    sampler: SpriteSampler,
    readonly maxBatch = 128,
    readonly gatherMs = 40,
    readonly passesPerStep = 4,
  ) {
    this.#sampler = sampler;
  }

  get sampler(): SpriteSampler {
    return this.#sampler;
  }

  /** Another model's sampler (a swap): what was kept is the old model's, and is dropped. */
  set sampler(sampler: SpriteSampler) {
    this.#sampler = sampler;
    this.#kept.clear();
  }

  get stats(): QueueStats {
    return { ...this.#stats, waiting: this.#waiting.length };
  }

  /** Whether a pass is running or requests are waiting. */
  get busy(): boolean {
    return this.#running;
  }

  /**
   * Sprites for one request, uint8 [count, H, W, 3], exactly as `sampler.generate` gives them.
   * `keep`: the result is kept, and the same request later gets it at once (the service prepares
   * the page's first grids while it starts, so that a visitor's first view needs no pass); a swap
   * of the sampler drops what was kept.
   */
  generate(
    job: GenerationJob,
    signal?: AbortSignal,
    onProgress?: GenerationProgress,
    keep = false,
  ): Promise<Generated> {
    if (job.count > this.maxBatch) {
      throw new Error(`a request of ${job.count} sprites exceeds the batch limit ${this.maxBatch}`);
    }
    const key = jobKey(job);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        this.#stats.cancelled++;
        return reject(new GenerationCancelledError());
      }
      const kept = key === null ? undefined : this.#kept.get(key);
      if (kept) {
        this.#stats.prepared++;
        return resolve({ ...kept, sprites: kept.sprites.slice(), waitedMs: 0, prepared: true });
      }
      const sampler = this.#sampler;
      const done = (made: Generated) => {
        // Not if the sampler was swapped meanwhile: these are the old model's sprites.
        if (keep && key !== null && this.#sampler === sampler) {
          this.#kept.set(key, { ...made, sprites: made.sprites.slice() });
        }
        resolve(made);
      };
      const w: Waiting = {
        job,
        signal,
        onProgress,
        arrived: performance.now(),
        resolve: done,
        reject,
      };
      this.#waiting.push(w);
      signal?.addEventListener("abort", () => {
        const at = this.#waiting.indexOf(w);
        if (at < 0) return; // its pass has begun: the result is dropped by the caller
        this.#waiting.splice(at, 1);
        this.#stats.cancelled++;
        reject(new GenerationCancelledError());
      }, { once: true });
      if (!this.#running) {
        this.#running = true;
        setTimeout(() => this.#work(), this.gatherMs);
      }
    });
  }

  /** Rejects every waiting request (the service is closing); the pass in progress finishes. */
  rejectWaiting(e: unknown): void {
    for (const w of this.#waiting.splice(0)) w.reject(e);
  }

  /**
   * Awaited by the training loop before each step (see the header). Calling it again means the
   * step it let through has been submitted.
   */
  async trainingTurn(): Promise<void> {
    this.trainingPaused();
    await nextTask();
    if (!this.#running) return;
    await new Promise<void>((resolve) => this.#training = resolve);
  }

  /** The training loop is between steps for a while (a checkpoint) or has ended: passes go on. */
  trainingPaused(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  async #work(): Promise<void> {
    while (this.#waiting.length) {
      const pass = await this.#fit(this.#takePass());
      if (pass.length) {
        const started = performance.now();
        try {
          const sprites = await this.#run(pass);
          const info = {
            ms: Math.round(performance.now() - started),
            requests: pass.length,
            sprites: pass.reduce((n, w) => n + w.job.count, 0),
          };
          pass.forEach((w, i) =>
            w.resolve({
              sprites: sprites[i],
              pass: info,
              waitedMs: Math.round(started - w.arrived),
            })
          );
        } catch (e) {
          for (const w of pass) w.reject(e);
        }
      }
      this.#passesSinceStep++;
      if (
        this.#training && (!this.#waiting.length || this.#passesSinceStep >= this.passesPerStep)
      ) {
        if (this.#waiting.length) this.#stats.trainingTurns++;
        await this.#letTrainingStep();
      }
    }
    this.#running = false;
    this.#passesSinceStep = 0;
    const training = this.#training;
    this.#training = undefined;
    training?.();
  }

  /** Lets the waiting training step run; resolves once it has been submitted. */
  #letTrainingStep(): Promise<void> {
    this.#passesSinceStep = 0;
    const go = this.#training!;
    this.#training = undefined;
    return new Promise<void>((resume) => {
      this.#resume = resume;
      go();
    });
  }

  #takePass(): Waiting[] {
    const key = passKey(this.#waiting[0].job);
    const pass: Waiting[] = [];
    const rest: Waiting[] = [];
    let total = 0;
    for (const w of this.#waiting) {
      if (passKey(w.job) === key && total + w.job.count <= this.maxBatch) {
        pass.push(w);
        total += w.job.count;
      } else rest.push(w);
    }
    this.#waiting = rest;
    return pass;
  }

  /**
   * The leading requests of a pass whose merged program the memory budget holds; the others wait
   * for the next pass, in their order. A request alone always runs (the sampler refuses it if it
   * cannot fit).
   */
  async #fit(pass: Waiting[]): Promise<Waiting[]> {
    const live = pass.filter((w) => !w.signal?.aborted);
    const back: Waiting[] = [];
    while (live.length > 1) {
      const count = live.reduce((n, w) => n + w.job.count, 0);
      if (await this.sampler.fits({ ...live[0].job, count })) break;
      back.unshift(live.pop()!);
    }
    this.#waiting = [...back, ...this.#waiting];
    return live;
  }

  async #run(pass: Waiting[]): Promise<Uint8Array[]> {
    const jobs = pass.map((w) => w.job);
    const sampler = this.sampler;
    const classes = sampler.classes;
    const count = jobs.reduce((n, j) => n + j.count, 0);
    const labels = new Float32Array(count * classes);
    const itemSeeds = new Uint32Array(count * 2);
    let at = 0;
    for (const j of jobs) {
      labels.set(j.labels.subarray(0, j.count * classes), at * classes);
      for (let i = 0; i < j.count; i++) {
        itemSeeds[2 * (at + i)] = j.seed >>> 0;
        itemSeeds[2 * (at + i) + 1] = i;
      }
      at += j.count;
    }
    const first = jobs[0];
    // The pass key keeps requests with and without their own noise apart.
    let latents: Float32Array | undefined;
    if (first.latents) {
      latents = new Float32Array(jobs.reduce((n, j) => n + j.latents!.length, 0));
      let offset = 0;
      for (const j of jobs) {
        latents.set(j.latents!, offset);
        offset += j.latents!.length;
      }
    }
    // Per-step reports only where someone listens: they split the pass into a submit a step.
    const listeners = pass.flatMap((w) => w.onProgress ? [w.onProgress] : []);
    for (const l of listeners) l(0, first.steps);
    const report = listeners.length
      ? (done: number, total: number) => listeners.forEach((l) => l(done, total))
      : undefined;
    const all = await sampler.generate(
      { ...first, labels, count, itemSeeds, latents },
      report,
    );
    this.#stats.passes++;
    this.#stats.requests += jobs.length;
    this.#stats.largestMerge = Math.max(this.#stats.largestMerge, jobs.length);
    const per = all.length / count;
    at = 0;
    return jobs.map((j) => {
      const part = all.slice(at * per, (at + j.count) * per);
      at += j.count;
      return part;
    });
  }
}
