// GPU tensors: a storage buffer with a shape and an element type, and the one allocator.
import type { Gpu } from "./device.ts";
import { MemoryBudgetError, trackAllocation } from "./memory.ts";

export type DType = "f32" | "u32" | "i32" | "f16";

const bytesPerElement: Record<DType, number> = { f32: 4, u32: 4, i32: 4, f16: 2 };

export interface Tensor {
  buffer: GPUBuffer;
  shape: number[];
  dtype: DType;
  /** Number of elements. */
  size: number;
  label: string;
  /** Byte offset into `buffer`: views let all parameters share one buffer (one AdamW pass). */
  offset: number;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * Every tensor of the project is made here, so buffer sizes and usages have one rule, and the
 * context's allocation scope (gpu/runtime/memory.ts) owns the buffer.
 */
export function createTensor(gpu: Gpu, shape: number[], dtype: DType = "f32", label = ""): Tensor {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`tensor ${label}: bad shape [${shape}]`);
  }
  const size = sizeOf(shape);
  // Round up to 16 bytes so vec4 loads past an odd tail stay inside the binding.
  const bytes = Math.max(16, Math.ceil((size * bytesPerElement[dtype]) / 16) * 16);
  if (bytes > gpu.limits.maxStorageBufferBindingSize) {
    // A request's size (a batch) that this adapter cannot hold at all.
    throw new MemoryBudgetError(
      `tensor ${label} [${shape}] needs ${bytes} bytes, over the adapter's binding limit ` +
        `${gpu.limits.maxStorageBufferBindingSize}: lower the batch size`,
      413,
    );
  }
  const buffer = gpu.device.createBuffer({ size: bytes, usage, label });
  trackAllocation(gpu, buffer, bytes);
  return { buffer, shape: [...shape], dtype, size, label, offset: 0 };
}

/** Bytes a view must be aligned to: WebGPU's minStorageBufferOffsetAlignment (256 everywhere). */
export const VIEW_ALIGN_BYTES = 256;

/**
 * A tensor that lives inside another one, `elementOffset` elements in. The offset must be a
 * multiple of 256 bytes (64 f32 elements), WebGPU's alignment for storage bindings.
 */
export function tensorView(
  parent: Tensor,
  elementOffset: number,
  shape: number[],
  label = "",
): Tensor {
  const offset = parent.offset + elementOffset * bytesPerElement[parent.dtype];
  const size = sizeOf(shape);
  if (offset % VIEW_ALIGN_BYTES !== 0) throw new Error(`view ${label}: offset ${offset} unaligned`);
  if (elementOffset + size > parent.size) {
    throw new Error(`view ${label}: [${shape}] at ${elementOffset} overruns ${parent.label}`);
  }
  return { buffer: parent.buffer, shape: [...shape], dtype: parent.dtype, size, label, offset };
}

/** Bytes of the binding a kernel sees: the tensor's elements rounded up to 16 for vec4 loads. */
export function bindingSize(t: Tensor): number {
  const bytes = Math.max(16, Math.ceil((t.size * bytesPerElement[t.dtype]) / 16) * 16);
  return Math.min(bytes, t.buffer.size - t.offset);
}

type HostArray = Float32Array | Uint32Array | Int32Array | Uint16Array;

/** Creates a tensor and fills it from host memory. */
export function tensorFrom(gpu: Gpu, data: HostArray, shape: number[], label = ""): Tensor {
  const dtype: DType = data instanceof Float32Array
    ? "f32"
    : data instanceof Uint32Array
    ? "u32"
    : data instanceof Int32Array
    ? "i32"
    : "f16";
  const t = createTensor(gpu, shape, dtype, label);
  upload(gpu, t, data);
  return t;
}

export function upload(gpu: Gpu, t: Tensor, data: HostArray, elementOffset = 0): void {
  if (data.length + elementOffset > t.size) {
    throw new Error(`upload to ${t.label}: ${data.length} elements do not fit ${t.size}`);
  }
  // writeBuffer wants a multiple of 4 bytes.
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const padded = bytes.byteLength % 4 === 0 ? bytes : (() => {
    const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    p.set(bytes);
    return p;
  })();
  gpu.device.queue.writeBuffer(
    t.buffer,
    t.offset + elementOffset * bytesPerElement[t.dtype],
    padded,
  );
}

/** Fills a tensor with one value: tests poison outputs with NaN before a kernel writes them. */
export function fill(gpu: Gpu, t: Tensor, value: number): void {
  if (t.dtype === "f16") throw new Error("fill: f16 not supported");
  const host = t.dtype === "f32"
    ? new Float32Array(t.size).fill(value)
    : t.dtype === "u32"
    ? new Uint32Array(t.size).fill(value)
    : new Int32Array(t.size).fill(value);
  upload(gpu, t, host);
}

/** Copies a tensor back to the host. Rare by design: each wait costs milliseconds. */
export async function readback(gpu: Gpu, t: Tensor): Promise<Float32Array> {
  const raw = await readbackBytes(gpu, t.buffer, t.offset, t.size * bytesPerElement[t.dtype]);
  if (t.dtype === "f32") return new Float32Array(raw);
  if (t.dtype === "u32") return Float32Array.from(new Uint32Array(raw));
  if (t.dtype === "i32") return Float32Array.from(new Int32Array(raw));
  const halves = new Uint16Array(raw);
  return Float32Array.from(halves, halfToFloat);
}

export async function readbackU32(gpu: Gpu, t: Tensor): Promise<Uint32Array> {
  return new Uint32Array(await readbackBytes(gpu, t.buffer, t.offset, t.size * 4));
}

async function readbackBytes(gpu: Gpu, buffer: GPUBuffer, offset: number, byteLength: number) {
  const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
  const staging = gpu.device.createBuffer({
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = gpu.device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, offset, staging, 0, Math.min(size, buffer.size - offset));
  gpu.device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, byteLength);
  staging.unmap();
  staging.destroy();
  return copy;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function destroyTensor(t: Tensor): void {
  if (t.offset === 0) t.buffer.destroy();
}
