// What every part of the model is built with: the activation allocator, gradient buffers with the
// "first writer overwrites, later writers accumulate" bookkeeping, and the backward steps, which the
// forward registers as it goes and which run in reverse.
import type { Gpu } from "../runtime/device.ts";
import type { Dispatch } from "../runtime/kernel.ts";
import { createTensor, type Tensor } from "../runtime/tensor.ts";
import type { ParamStore } from "./params.ts";

/** Builds the backward dispatches of one forward step; called in reverse forward order. */
export type BackwardStep = () => Promise<void>;

export interface BuilderOptions {
  batch: number;
  /** Dropout active (needs `seed`). */
  training: boolean;
  /** u32 [2] = [seed, step] read by the dropout kernels (gpu/runtime/random.ts). */
  seed?: Tensor;
  /** Allocate gradients and build the backward list. */
  withBackward: boolean;
  label: string;
  /** First dropout stream; each dropout site takes the next. */
  streamBase: number;
}

export class ModelBuilder {
  /**
   * The dispatches that read only parameters (marked `hoist` by the ops: weight packs), forward's
   * and backward's, to run once ahead of `forward`: the parameters do not change until the
   * optimizer step after `backward`, nor between the passes of a sampling request.
   */
  readonly prepare: Dispatch[] = [];
  readonly forward: Dispatch[] = [];
  readonly backward: Dispatch[] = [];
  /** Outputs of named modules (diffusers' module paths), for the fixture test and debugging. */
  readonly activations = new Map<string, Tensor>();
  private readonly steps: BackwardStep[] = [];
  private readonly grads = new Map<Tensor, Tensor>();
  private readonly written = new Set<Tensor>();
  private readonly scratchBuffers = new Map<string, Tensor>();
  private streams = 0;
  /** Bytes allocated for forward activations and for gradients (scratch included). */
  readonly bytes = { activations: 0, gradients: 0 };

  constructor(
    readonly gpu: Gpu,
    readonly params: ParamStore,
    readonly options: BuilderOptions,
  ) {}

  get batch(): number {
    return this.options.batch;
  }

  /** A forward activation: allocated once, kept for the backward. */
  act(shape: number[], label: string): Tensor {
    this.bytes.activations += 4 * shape.reduce((a, b) => a * b, 1);
    return createTensor(this.gpu, shape, "f32", `${this.options.label}.${label}`);
  }

  param(name: string): Tensor {
    return this.params.param(name);
  }

  paramGrad(name: string): Tensor {
    return this.params.grad(name);
  }

  /** A parameter seen with another shape (a 1x1 conv weight as a linear weight). */
  paramAs(name: string, shape: number[]): Tensor {
    return { ...this.params.param(name), shape };
  }

  paramGradAs(name: string, shape: number[]): Tensor {
    return { ...this.params.grad(name), shape };
  }

  async emit(d: Promise<Dispatch | Dispatch[]>): Promise<void> {
    this.#add(this.forward, await d);
  }

  async emitBackward(d: Promise<Dispatch | Dispatch[]>): Promise<void> {
    this.#add(this.backward, await d);
  }

  #add(list: Dispatch[], r: Dispatch | Dispatch[]): void {
    for (const d of Array.isArray(r) ? r : [r]) (d.hoist ? this.prepare : list).push(d);
  }

  onBackward(step: BackwardStep): void {
    if (this.options.withBackward) this.steps.push(step);
  }

  /** Runs the registered backward steps, last forward step first. */
  async buildBackward(): Promise<void> {
    for (let i = this.steps.length - 1; i >= 0; i--) await this.steps[i]();
  }

  /** The gradient buffer of activation `t` (same shape), allocated on first use. */
  grad(t: Tensor): Tensor {
    let g = this.grads.get(t);
    if (!g) {
      this.bytes.gradients += 4 * t.size;
      g = createTensor(this.gpu, t.shape, "f32", `d.${t.label}`);
      this.grads.set(t, g);
    }
    return g;
  }

  hasGrad(t: Tensor): boolean {
    return this.grads.has(t);
  }

  /** Uses `g` as the gradient buffer of `t` (an input gradient the caller owns). */
  setGrad(t: Tensor, g: Tensor): void {
    this.grads.set(t, g);
  }

  /**
   * Whether the next backward write into grad(t) must add: false for the first writer (it
   * overwrites), true afterwards. Backward steps run in the order they are built, so this holds.
   */
  accumulate(t: Tensor): boolean {
    const seen = this.written.has(t);
    this.written.add(t);
    return seen;
  }

  /**
   * A gradient buffer consumed right where it is produced (inside one block's backward): shared by
   * every block that asks for the same key and shape, since the backward runs one step at a time.
   */
  scratch(key: string, shape: number[]): Tensor {
    const id = `${key}[${shape}]`;
    let t = this.scratchBuffers.get(id);
    if (!t) {
      this.bytes.gradients += 4 * shape.reduce((a, b) => a * b, 1);
      t = createTensor(this.gpu, shape, "f32", `${this.options.label}.scratch.${id}`);
      this.scratchBuffers.set(id, t);
    }
    return t;
  }

  /** A dropout stream number of its own for each dropout site. */
  nextStream(): number {
    return this.options.streamBase + this.streams++;
  }
}
