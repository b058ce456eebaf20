// One GPU worker for every sampling request of the server. Requests wait in arrival order; a pass
// takes the oldest one plus every waiting request with the same (steps, eta, guidance, scheduler),
// up to `maxBatch` sprites, and runs them as one batch. Each request keeps its own seed through the
// sampler's per-item seeds, so merging never changes the bytes a request gets.
import type { SampleRequest, SpriteSampler } from "../gpu/sample/sampler.ts";

export type GenerationJob = Omit<SampleRequest, "itemSeeds">;

interface Waiting {
  job: GenerationJob;
  resolve: (sprites: Uint8Array) => void;
  reject: (e: unknown) => void;
}

export interface QueueStats {
  passes: number;
  requests: number;
  /** The most requests one pass has served. */
  largestMerge: number;
  waiting: number;
}

function passKey(j: GenerationJob): string {
  return [j.steps, j.eta, j.guidance, j.scheduler].join("|");
}

export class GenerationQueue {
  #waiting: Waiting[] = [];
  #running = false;
  #stats = { passes: 0, requests: 0, largestMerge: 0 };

  /**
   * `gatherMs`: how long an idle worker waits before a pass, so requests sent together (the page
   * asks for five grids at once) share it.
   */
  constructor(public sampler: SpriteSampler, readonly maxBatch = 128, readonly gatherMs = 2) {}

  get stats(): QueueStats {
    return { ...this.#stats, waiting: this.#waiting.length };
  }

  /** Sprites for one request, uint8 [count, H, W, 3], exactly as `sampler.generate` gives them. */
  generate(job: GenerationJob): Promise<Uint8Array> {
    if (job.count > this.maxBatch) {
      throw new Error(`a request of ${job.count} sprites exceeds the batch limit ${this.maxBatch}`);
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ job, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        setTimeout(() => this.#work(), this.gatherMs);
      }
    });
  }

  async #work(): Promise<void> {
    while (this.#waiting.length) {
      const pass = this.#takePass();
      try {
        const sprites = await this.#run(pass.map((w) => w.job));
        pass.forEach((w, i) => w.resolve(sprites[i]));
      } catch (e) {
        for (const w of pass) w.reject(e);
      }
    }
    this.#running = false;
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

  async #run(jobs: GenerationJob[]): Promise<Uint8Array[]> {
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
    const all = await sampler.generate({ ...first, labels, count, itemSeeds });
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
