// The one GPU device of the process: adapter selection, features, limits and error reporting.

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

export type AdapterClass = "cpu" | "gpu";

export interface Gpu {
  device: GPUDevice;
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" or "NVIDIA H100 80GB HBM3". */
  description: string;
  /** Kernel configurations are tuned per class: what wins on llvmpipe loses on a discrete GPU. */
  adapterClass: AdapterClass;
  hasF16: boolean;
  hasTimestamps: boolean;
  limits: GPUSupportedLimits;
  /**
   * Storage format of the packed GEMM and convolution operands (gpu/matmul_cpu.ts): rgba32float,
   * or rgba16float for mixed precision (`withPrecision`). Kernels read texels as f32 and accumulate
   * in f32 either way.
   */
  operandFormat: OperandFormat;
}

export type OperandFormat = "rgba32float" | "rgba16float";
export type Precision = "f32" | "f16";

/**
 * The same device with GEMM and convolution operands stored as `precision` ("f16": half the bytes
 * per operand, f32 accumulation, f32 everywhere else, as torch's autocast does for matmul and
 * conv). Everything built with the returned context uses it; the device and pipeline cache are
 * shared. f16 operands live in textures, so f16 builds take the texture-packed kernels on every
 * adapter class.
 */
export function withPrecision(gpu: Gpu, precision: Precision): Gpu {
  return { ...gpu, operandFormat: precision === "f16" ? "rgba16float" : "rgba32float" };
}

/**
 * `--precision auto`. CPU adapters: f32, since f16 operands bought nothing on llvmpipe (its texture
 * loads cost the same per texel whatever the format: compact batch 32 trained at 2,362 ms per step
 * in f16 against 2,165 in f32). GPUs: f32 until the f16 texture path is measured against their
 * workgroup-tile f32 kernels (no GPU has run this code yet).
 */
export function defaultPrecision(_gpu: Gpu): Precision {
  return "f32";
}

/** The texture-packed GEMM and convolution kernels: tuned for llvmpipe, and the f16 operand path. */
export function usesTexturePath(gpu: Gpu, forced?: AdapterClass): boolean {
  if (forced) return forced === "cpu";
  return gpu.adapterClass === "cpu" || gpu.operandFormat === "rgba16float";
}

let acquired: Promise<Gpu> | undefined;

/** Acquires the adapter and device once per process; every later call returns the same device. */
export function getGpu(): Promise<Gpu> {
  acquired ??= acquire();
  return acquired;
}

function describe(info: GPUAdapterInfo): string {
  return info.description ||
    [info.vendor, info.architecture, info.device].filter(Boolean).join(" ") ||
    "unknown adapter";
}

const limitNames = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
  "maxUniformBufferBindingSize",
  "maxBindGroups",
  "maxTextureDimension2D",
] as const;

async function acquire(): Promise<Gpu> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError("this Deno build has no navigator.gpu");
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    throw new GpuUnavailableError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new GpuUnavailableError("requestAdapter returned no adapter");

  const wanted: GPUFeatureName[] = ["shader-f16", "timestamp-query"];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  // WebGPU's default limits are far below what any adapter offers (128 MiB bindings, 8 buffers);
  // ask for the adapter's own so large activations and many-buffer kernels fit.
  const requiredLimits: Record<string, number> = {};
  for (const name of limitNames) requiredLimits[name] = adapter.limits[name];

  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  device.addEventListener("uncapturederror", (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    console.error(`GPU error: ${error.message}`);
  });
  device.lost.then((info) => {
    if (info.reason !== "destroyed") console.error(`GPU device lost: ${info.message}`);
  });

  const info = adapter.info;
  const isFallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const description = describe(info);
  const cpuLike = isFallback === true ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(description);
  return {
    device,
    description,
    adapterClass: cpuLike ? "cpu" : "gpu",
    hasF16: requiredFeatures.includes("shader-f16"),
    hasTimestamps: requiredFeatures.includes("timestamp-query"),
    limits: device.limits,
    operandFormat: "rgba32float",
  };
}

/** One line for logs and the service's start-up banner. */
export function adapterLine(gpu: Gpu): string {
  const features = [gpu.hasF16 ? "shader-f16" : "", gpu.hasTimestamps ? "timestamp-query" : ""]
    .filter(Boolean).join(", ");
  return `adapter: ${gpu.description} [${gpu.adapterClass}]${features ? ` (${features})` : ""}`;
}
