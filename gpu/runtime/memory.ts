// Device memory, counted: every buffer and texture a program allocates belongs to an
// AllocationScope carried by the Gpu it was built with, so a sampling program or a training step
// can be sized before it is built (a dry run of its own builder against a counting device) and
// released at once when it is evicted (`destroy()`, not whenever the garbage collector runs), and a
// MemoryBudget can refuse what does not fit. Platform-neutral like the rest of the engine.
import type { Gpu } from "./device.ts";
import { EngineInputError } from "./errors.ts";

/** Something that holds device memory until destroyed: a GPUBuffer or a GPUTexture. */
export interface DeviceResource {
  destroy(): void;
}

/** The buffers and textures of one program (or one model's parameters), and their bytes. */
export class AllocationScope {
  #resources: DeviceResource[] = [];
  #bytes = 0;
  #destroyed = false;
  constructor(readonly label: string) {}

  get bytes(): number {
    return this.#bytes;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  add(resource: DeviceResource, bytes: number): void {
    if (this.#destroyed) {
      resource.destroy();
      throw new Error(`allocation scope ${this.label} is already destroyed`);
    }
    this.#resources.push(resource);
    this.#bytes += bytes;
  }

  /** Destroys every resource of the scope now; anything built from them must not run again. */
  destroy(): void {
    for (const r of this.#resources) r.destroy();
    this.#resources = [];
    this.#bytes = 0;
    this.#destroyed = true;
  }
}

/** A Gpu whose allocations are counted in `allocations` (the field survives `{...gpu}` copies). */
export type ScopedGpu = Gpu & { allocations?: AllocationScope };

/** The same device, with everything allocated through the returned context counted in `scope`. */
export function withAllocations(gpu: Gpu, scope: AllocationScope): Gpu {
  return { ...gpu, allocations: scope } as ScopedGpu;
}

/**
 * Called by every allocator of the engine (createTensor, storageTexture) right after it creates a
 * buffer or texture: the context's scope, if it has one, owns it from then on.
 */
export function trackAllocation(gpu: Gpu, resource: DeviceResource, bytes: number): void {
  (gpu as ScopedGpu).allocations?.add(resource, bytes);
}

/** What a dry run of a builder allocated. */
export interface AllocationCount {
  /** Bytes of every buffer and texture, as their descriptors ask for them. */
  bytes: number;
  bufferBytes: number;
  textureBytes: number;
  buffers: number;
  textures: number;
}

const TEXEL_BYTES: Record<string, number> = {
  rgba32float: 16,
  rgba16float: 8,
  r32float: 4,
  r32uint: 4,
  rgba8unorm: 4,
};

/** Bytes of a 2-D texture descriptor (the formats the engine uses). */
export function textureDescriptorBytes(d: GPUTextureDescriptor): number {
  const [w, h = 1, layers = 1] = Array.isArray(d.size) ? d.size as number[] : [
    (d.size as GPUExtent3DDict).width,
    (d.size as GPUExtent3DDict).height ?? 1,
    (d.size as GPUExtent3DDict).depthOrArrayLayers ?? 1,
  ];
  const texel = TEXEL_BYTES[d.format];
  if (texel === undefined) throw new Error(`textureDescriptorBytes: format ${d.format}`);
  return w * h * layers * texel;
}

/**
 * A stand-in GPUDevice that allocates nothing and counts what it is asked for: the builders run
 * against it unchanged (pipelines, bind groups and writes are inert objects), so the count is the
 * bytes the real build will allocate, textures and parameter buffers included.
 */
function countingDevice(real: GPUDevice, count: AllocationCount): GPUDevice {
  const inert = { destroy() {}, label: "" };
  const device = {
    limits: real.limits,
    features: real.features,
    label: "counting device",
    queue: { writeBuffer() {}, submit() {}, onSubmittedWorkDone: () => Promise.resolve() },
    createBuffer(d: GPUBufferDescriptor) {
      count.bufferBytes += d.size;
      count.buffers++;
      return { ...inert, size: d.size, usage: d.usage };
    },
    createTexture(d: GPUTextureDescriptor) {
      count.textureBytes += textureDescriptorBytes(d);
      count.textures++;
      // `size: 0`: kernel.ts sums bound bytes of views it does not know as `.size`.
      return { ...inert, createView: () => ({ label: "", size: 0 }) };
    },
    createShaderModule: () => ({ ...inert }),
    createComputePipeline: () => ({ ...inert, getBindGroupLayout: () => ({}) }),
    createBindGroup: () => ({ ...inert }),
    createCommandEncoder() {
      throw new Error("a dry run must not record commands");
    },
    pushErrorScope() {},
    popErrorScope: () => Promise.resolve(null),
    addEventListener() {},
    lost: new Promise(() => {}),
    destroy() {},
  };
  return device as unknown as GPUDevice;
}

/**
 * Runs `build` against a counting device and returns what it would allocate. The builder sees a Gpu
 * like `gpu` in every respect but its device; tensors it was handed from the real device (a model's
 * parameters) are bound, not counted.
 */
export async function dryRunAllocations(
  gpu: Gpu,
  build: (counting: Gpu) => Promise<unknown>,
): Promise<AllocationCount> {
  const count: AllocationCount = {
    bytes: 0,
    bufferBytes: 0,
    textureBytes: 0,
    buffers: 0,
    textures: 0,
  };
  const { allocations: _ignored, ...plain } = gpu as ScopedGpu;
  await build({ ...plain, device: countingDevice(gpu.device, count) });
  count.bytes = count.bufferBytes + count.textureBytes;
  return count;
}

/** What a program or a job would hold: device bytes, and host bytes beside them. */
export interface MemoryEstimate {
  deviceBytes: number;
  hostBytes: number;
}

export const estimateTotal = (e: MemoryEstimate) => e.deviceBytes + e.hostBytes;

/** A request that the memory budget cannot hold: too large ever (413), or not while busy (503). */
export class MemoryBudgetError extends EngineInputError {
  constructor(message: string, readonly status: 413 | 503) {
    super(message);
  }
}

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 24 ? 1 : 0)} MiB`;

/**
 * The bytes the service may hold at once (device and host memory for its programs, models and
 * training job). Holders reserve an estimate before they build; a reservation that does not fit is
 * refused with a message that says how much was asked, how much is held and by what.
 */
export class MemoryBudget {
  #held = new Map<object, { bytes: number; what: string; waitable: boolean }>();
  #peak = 0;
  constructor(readonly limitBytes: number) {}

  get usedBytes(): number {
    let n = 0;
    for (const h of this.#held.values()) n += h.bytes;
    return n;
  }

  /** The most ever held at once. */
  get peakBytes(): number {
    return this.#peak;
  }

  fits(bytes: number): boolean {
    return this.usedBytes + bytes <= this.limitBytes;
  }

  /**
   * Holds `bytes` for `owner` until `release(owner)`. A `waitable` holder ends by itself (a
   * training job): when only such holders stand in the way the refusal is a 503 (try again later),
   * otherwise a 413 (too large for this service).
   */
  reserve(owner: object, bytes: number, what: string, o: { waitable?: boolean } = {}): void {
    if (this.#held.has(owner)) throw new Error(`memory budget: ${what} is reserved twice`);
    const used = this.usedBytes;
    if (used + bytes > this.limitBytes) {
      const waitBytes = [...this.#held.values()].filter((h) => h.waitable)
        .reduce((n, h) => n + h.bytes, 0);
      const holders = [...this.#held.values()].map((h) => `${h.what} ${mib(h.bytes)}`).join(", ");
      const fitsLater = waitBytes > 0 && used - waitBytes + bytes <= this.limitBytes;
      throw new MemoryBudgetError(
        `${what} needs ${mib(bytes)} of memory; the service's budget is ${mib(this.limitBytes)} ` +
          `and ${mib(used)} of it is held (${holders || "nothing"})` +
          (fitsLater ? ": try again when the training job has ended" : ": ask for less"),
        fitsLater ? 503 : 413,
      );
    }
    this.#held.set(owner, { bytes, what, waitable: o.waitable ?? false });
    this.#peak = Math.max(this.#peak, used + bytes);
  }

  release(owner: object): void {
    this.#held.delete(owner);
  }

  /** What is held, by whom. */
  holders(): { what: string; bytes: number }[] {
    return [...this.#held.values()].map(({ what, bytes }) => ({ what, bytes }));
  }
}

/**
 * The default budget: a quarter of the host's memory (a CPU adapter's device memory is the host's,
 * and a GPU's programs keep host copies too), and at most four of the adapter's largest buffers
 * (WebGPU tells no device memory size; the largest buffer it allows is the one figure it gives).
 */
export function defaultMemoryBudget(gpu: Gpu, hostTotalBytes: number): number {
  return Math.floor(Math.min(hostTotalBytes / 4, 4 * gpu.limits.maxBufferSize));
}
