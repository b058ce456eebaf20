// The one GPU device of the process: adapter selection, its backend profile, features, limits and
// error reporting.
import { type BackendProfile, isCpuAdapter, type OperandPlan, type Precision } from "./profile.ts";
import { DISCRETE_GPU } from "./profiles/discrete_gpu.ts";
import { LLVMPIPE } from "./profiles/llvmpipe.ts";

export type { Precision };

/** No usable WebGPU adapter: the message names the fix, the CLI prints it without a stack. */
export class GpuUnavailableError extends Error {
  constructor(detail: string) {
    super(
      `No WebGPU adapter is available (${detail}).\n` +
        "  On a GPU host: install the GPU driver and the Vulkan loader (Debian: libvulkan1).\n" +
        "  Without a GPU: install Mesa's CPU drivers (Debian: apt-get install mesa-vulkan-drivers).",
    );
    this.name = "GpuUnavailableError";
  }
}

/** What the adapter is: "cpu" for a software rasteriser (isCpuAdapter), else "gpu". */
export type AdapterKind = "cpu" | "gpu";

export interface Gpu {
  device: GPUDevice;
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" or "NVIDIA H100 80GB HBM3". */
  description: string;
  /** Shown in adapterLine and the bench report; no kernel reads it (they read `profile`). */
  adapterKind: AdapterKind;
  /**
   * Every tuning choice of the kernels: techniques, tiles, lane widths, split-K, reducers
   * (gpu/runtime/profile.ts). profileFor's choice for the adapter, or `withProfile`'s.
   */
  profile: BackendProfile;
  /** The adapter offers shader-f16 (shown in adapterLine; no kernel needs it, none requests it). */
  hasF16: boolean;
  hasTimestamps: boolean;
  limits: GPUSupportedLimits;
  /**
   * Storage format of the texture-packed GEMM and convolution operands (gpu/ops/matmul/texture.ts):
   * rgba32float, or rgba16float for mixed precision (`withPrecision`). Kernels read texels as f32
   * and accumulate in f32 either way.
   */
  operandFormat: OperandFormat;
}

export type OperandFormat = "rgba32float" | "rgba16float";

/** Every backend profile, in the order profileFor tries them (the last one takes any adapter). */
export const PROFILES: readonly BackendProfile[] = [LLVMPIPE, DISCRETE_GPU];

/** The profile of an adapter: the first in PROFILES that matches it. */
export function profileFor(description: string, isFallback: boolean): BackendProfile {
  return PROFILES.find((p) => p.matches({ description, isFallback })) ?? DISCRETE_GPU;
}

/**
 * The same device with GEMM and convolution operands stored as `precision` ("f16": half the bytes
 * per operand, f32 accumulation, f32 everywhere else, as torch's autocast does for matmul and
 * conv). Everything built with the returned context uses it; the device and pipeline cache are
 * shared. Which kernels an f16 build takes is the profile's f16 plan (`operandPlan`).
 */
export function withPrecision(gpu: Gpu, precision: Precision): Gpu {
  return { ...gpu, operandFormat: precision === "f16" ? "rgba16float" : "rgba32float" };
}

/**
 * The same device with the kernels of another backend profile: the tests run every op under every
 * profile on whatever adapter they have, and the bench compares techniques. The device, its
 * limits and the pipeline cache are shared.
 */
export function withProfile(gpu: Gpu, profile: BackendProfile): Gpu {
  return { ...gpu, profile };
}

/** The precision of the context's GEMM and convolution operands. */
export function precisionOf(gpu: Gpu): Precision {
  return gpu.operandFormat === "rgba16float" ? "f16" : "f32";
}

/** The profile's techniques and GEMM tiles for the context's operand precision. */
export function operandPlan(gpu: Gpu): OperandPlan {
  return gpu.profile.operands[precisionOf(gpu)];
}

/** `--precision auto`: the profile's choice (see its `autoPrecision`). */
export function defaultPrecision(gpu: Gpu): Precision {
  return gpu.profile.autoPrecision;
}

let acquired: Promise<Gpu> | undefined;

/** Acquires the adapter and device once per process; every later call returns the same device. */
export function getGpu(): Promise<Gpu> {
  acquired ??= requestGpu();
  return acquired;
}

function describe(info: GPUAdapterInfo): string {
  return info.description ||
    [info.vendor, info.architecture, info.device].filter(Boolean).join(" ") ||
    "unknown adapter";
}

/** What a device asks for beyond WebGPU's defaults. */
export interface GpuRequest {
  /**
   * Raise maxStorageBufferBindingSize and maxBufferSize to the adapter's (default true). They
   * bound only how large a model or a batch fits, never which kernel a build takes: training's
   * batch goes to 4096, whose activations pass the 128 MiB default. A page's sampling program
   * needs nothing past the defaults, and asks for none.
   */
  largeBuffers?: boolean;
  /**
   * timestamp-query where the adapter has it (default true): only bench/ reads the timestamps.
   */
  timestamps?: boolean;
}

/**
 * A new device on the first adapter, within WebGPU's default limits (8 storage buffers and 4
 * storage textures per stage, 16 KiB of workgroup storage, 256 invocations, 8192-texel textures,
 * 128 MiB bindings), the only ones a web page can count on. Measured: no dispatch of the sampling
 * program, of the fixture's forward and backward or of a training step (either preset, batch 128,
 * either profile) needs more (at most 8 storage buffers, 2 storage textures, 256 invocations,
 * 8 KiB of workgroup storage, a 104 MiB binding: tests/runtime/default_limits_test.ts), so no
 * limit is raised but the two buffer sizes of `GpuRequest`. No feature is required: no kernel
 * enables f16 (f16 operands are rgba16float textures, read as f32).
 */
export async function requestGpu(request: GpuRequest = {}): Promise<Gpu> {
  const { largeBuffers = true, timestamps = true } = request;
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError("this runtime has no navigator.gpu");
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    throw new GpuUnavailableError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new GpuUnavailableError("requestAdapter returned no adapter");

  const requiredFeatures: GPUFeatureName[] = timestamps && adapter.features.has("timestamp-query")
    ? ["timestamp-query"]
    : [];
  const requiredLimits: Record<string, number> = {};
  if (largeBuffers) {
    requiredLimits.maxStorageBufferBindingSize = adapter.limits.maxStorageBufferBindingSize;
    requiredLimits.maxBufferSize = adapter.limits.maxBufferSize;
  }

  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  device.addEventListener("uncapturederror", (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    console.error(`GPU error: ${error.message}`);
  });
  device.lost.then((info) => {
    if (info.reason !== "destroyed") console.error(`GPU device lost: ${info.message}`);
  });

  const info = adapter.info;
  // adapter.info.isFallbackAdapter in current browsers, adapter.isFallbackAdapter before.
  const isFallback =
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ===
      true ||
    (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const description = describe(info);
  return {
    device,
    description,
    adapterKind: isCpuAdapter(description, isFallback) ? "cpu" : "gpu",
    profile: profileFor(description, isFallback),
    hasF16: adapter.features.has("shader-f16"),
    hasTimestamps: requiredFeatures.includes("timestamp-query"),
    limits: device.limits,
    operandFormat: "rgba32float",
  };
}

/**
 * One line for logs and the service's start-up banner, e.g.
 * `adapter: llvmpipe (LLVM 15.0.6, 256 bits) [cpu, llvmpipe profile] (shader-f16, timestamp-query)`.
 */
export function adapterLine(gpu: Gpu): string {
  const features = [gpu.hasF16 ? "shader-f16" : "", gpu.hasTimestamps ? "timestamp-query" : ""]
    .filter(Boolean).join(", ");
  return `adapter: ${gpu.description} [${gpu.adapterKind}, ${gpu.profile.name} profile]${
    features ? ` (${features})` : ""
  }`;
}
