// The one way to run WGSL: a kernel is WGSL plus a declared interface; a Dispatch is a kernel bound
// to its buffers and parameters once, then recorded into any number of command encoders.
//
// The binding declarations are generated from the spec, so the TypeScript and the WGSL cannot
// disagree about order or types:
//   @group(0) @binding(0) var<uniform> p: Params;   (when `params` is non-empty)
//   @group(0) @binding(i) var<storage, read|read_write> <name>: <type>;   (in `bindings` order)
// plus `const NAME = value;` for each entry of `consts` (specialisation: tile sizes, flags).
import type { Gpu, OperandFormat } from "./device.ts";
import { bindingSize, type Tensor } from "./tensor.ts";
import { trackAllocation } from "./memory.ts";

export type ParamType = "u32" | "i32" | "f32";

export interface KernelSpec {
  /** Shown in errors and in the benchmark's per-kernel table. */
  name: string;
  /** Uniform parameters, in struct order; the WGSL sees them as `p.<name>`. */
  params?: Record<string, ParamType>;
  /**
   * Storage buffers: "read" | "write", optionally followed by a WGSL type (default array<f32>).
   * "texture read" | "texture write": a storage texture of `textureFormat` (a GPUTextureView).
   */
  bindings: Record<string, string>;
  /** Format of the texture bindings; `createDispatch` sets it from the Gpu's operandFormat. */
  textureFormat?: OperandFormat;
  /** Compile-time constants, emitted as WGSL `const` (integers as u32, unless given as "1.5f"). */
  consts?: Record<string, number | string | boolean>;
  /** WGSL with `@compute @workgroup_size(...) fn main(...)`; may use `enable f16;` via `f16: true`. */
  code: string;
  f16?: boolean;
}

export interface Dispatch {
  name: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** Present when the kernel has parameters; `setParams` rewrites them before the next submit. */
  paramBuffer?: GPUBuffer;
  /** The parameter values last written (the benchmark derives GEMM FLOPs from them). */
  params?: Record<string, number>;
  /** Bytes of every buffer and texture bound (the benchmark's GB/s: each binding once). */
  boundBytes: number;
  spec: KernelSpec;
}

const textureBytes = new WeakMap<GPUTextureView, number>();

/** Records a texture view's size for `boundBytes` (views do not expose their texture's size). */
export function registerTextureBytes(view: GPUTextureView, bytes: number): void {
  textureBytes.set(view, bytes);
}

/** Renders a spec into complete WGSL source. Exported for tests and error messages. */
export function kernelSource(spec: KernelSpec): string {
  const lines: string[] = [];
  if (spec.f16) lines.push("enable f16;");
  for (const [name, value] of Object.entries(spec.consts ?? {})) {
    const v = typeof value === "boolean"
      ? `${value}`
      : typeof value === "string"
      ? value
      : Number.isInteger(value)
      ? `${value}u`
      : `${value}f`;
    lines.push(`const ${name} = ${v};`);
  }
  let binding = 0;
  const params = Object.entries(spec.params ?? {});
  if (params.length) {
    lines.push(`struct Params { ${params.map(([n, t]) => `${n}: ${t},`).join(" ")} }`);
    lines.push(`@group(0) @binding(${binding++}) var<uniform> p: Params;`);
  }
  for (const [name, decl] of Object.entries(spec.bindings)) {
    const [access, ...type] = decl.trim().split(/\s+/);
    if (access === "texture" && (type[0] === "read" || type[0] === "write")) {
      lines.push(
        `@group(0) @binding(${binding++}) var ${name}: texture_storage_2d<${
          spec.textureFormat ?? "rgba32float"
        }, ${type[0]}>;`,
      );
      continue;
    }
    if (access !== "read" && access !== "write") {
      throw new Error(`kernel ${spec.name}: binding ${name} must start with read or write`);
    }
    const mode = access === "read" ? "read" : "read_write";
    lines.push(
      `@group(0) @binding(${binding++}) var<storage, ${mode}> ${name}: ${
        type.join(" ") || "array<f32>"
      };`,
    );
  }
  if (Object.values(spec.bindings).some((b) => b.trim().startsWith("texture"))) {
    lines.push(spec.textureFormat === "rgba16float" ? ROUND_TO_F16 : TO_OPERAND_F32);
  }
  // Large 1-D launches are folded into x and y (65535 workgroups per dimension).
  lines.push(
    "fn flat_id(gid: vec3u, nwg: vec3u, wg: u32) -> u32 { return gid.x + gid.y * nwg.x * wg; }",
  );
  return lines.join("\n") + "\n" + spec.code;
}

// Every operand texture is written through toOperand(). For rgba16float it rounds to the nearest
// f16 (ties to even) in f32 arithmetic, so the store is exact: llvmpipe's f32 -> f16 store rounds
// toward zero (a bias towards 0 in every operand) and saturates at 65504, which would hide the
// overflow that dynamic loss scaling must see; here a value past the f16 range becomes inf.
const TO_OPERAND_F32 = "fn toOperand(v: vec4f) -> vec4f { return v; }";
const ROUND_TO_F16 = /* wgsl */ `
fn roundToF16(x: f32) -> f32 {
  // f16 subnormals are multiples of 2^-24: exact in f32, and round() ties to even.
  if (abs(x) < 6.103515625e-5) { return round(x * 16777216.0) / 16777216.0; }
  let b = bitcast<u32>(x);
  let r = bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);
  if (abs(r) > 65504.0) { return bitcast<f32>((b & 0x80000000u) | 0x7f800000u); }
  return r;
}
fn toOperand(v: vec4f) -> vec4f {
  return vec4f(roundToF16(v.x), roundToF16(v.y), roundToF16(v.z), roundToF16(v.w));
}`;

const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

async function compile(gpu: Gpu, spec: KernelSpec, source: string): Promise<GPUComputePipeline> {
  const device = gpu.device;
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: source, label: spec.name });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
    label: spec.name,
  });
  const error = await device.popErrorScope();
  if (error) {
    const numbered = source.split("\n").map((l, i) => `${String(i + 1).padStart(4)}  ${l}`);
    throw new Error(
      `kernel ${spec.name} failed to compile: ${error.message}\n${numbered.join("\n")}`,
    );
  }
  return pipeline;
}

/** Pipelines are compiled once per device and cached by their complete source. */
export function getPipeline(gpu: Gpu, spec: KernelSpec): Promise<GPUComputePipeline> {
  let cache = pipelines.get(gpu.device);
  if (!cache) pipelines.set(gpu.device, cache = new Map());
  const source = kernelSource(spec);
  let pipeline = cache.get(source);
  if (!pipeline) {
    pipeline = compile(gpu, spec, source);
    cache.set(source, pipeline);
  }
  return pipeline;
}

function packParams(spec: KernelSpec, values: Record<string, number>): ArrayBuffer {
  const entries = Object.entries(spec.params ?? {});
  const data = new ArrayBuffer(Math.max(16, Math.ceil((entries.length * 4) / 16) * 16));
  const view = new DataView(data);
  entries.forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined || !Number.isFinite(v) && type !== "f32") {
      throw new Error(`kernel ${spec.name}: parameter ${name} is ${v}`);
    }
    if (type === "u32") view.setUint32(i * 4, v, true);
    else if (type === "i32") view.setInt32(i * 4, v, true);
    else view.setFloat32(i * 4, v, true);
  });
  for (const name of Object.keys(values)) {
    if (!(name in (spec.params ?? {}))) {
      throw new Error(`kernel ${spec.name}: unknown param ${name}`);
    }
  }
  return data;
}

/**
 * Binds a kernel to its buffers and parameters. Call at model-build time, never per step:
 * the bind group and the parameter buffer live as long as the Dispatch.
 */
export async function createDispatch(
  gpu: Gpu,
  spec: KernelSpec,
  buffers: Record<string, Tensor | GPUBuffer | GPUTextureView>,
  workgroups: [number, number?, number?],
  params: Record<string, number> = {},
): Promise<Dispatch> {
  // Textures made with this context (storageTexture) have its operand format; so do the bindings.
  if (Object.values(spec.bindings).some((b) => b.trim().startsWith("texture"))) {
    spec = { ...spec, textureFormat: gpu.operandFormat };
  }
  const pipeline = await getPipeline(gpu, spec);
  const device = gpu.device;
  const entries: GPUBindGroupEntry[] = [];
  let binding = 0;
  let paramBuffer: GPUBuffer | undefined;
  if (Object.keys(spec.params ?? {}).length) {
    const data = packParams(spec, params);
    paramBuffer = device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: `${spec.name}.params`,
    });
    trackAllocation(gpu, paramBuffer, data.byteLength);
    device.queue.writeBuffer(paramBuffer, 0, data);
    entries.push({ binding: binding++, resource: { buffer: paramBuffer } });
  }
  let boundBytes = 0;
  for (const name of Object.keys(spec.bindings)) {
    const b = buffers[name];
    if (!b) throw new Error(`kernel ${spec.name}: no buffer given for binding ${name}`);
    boundBytes += b instanceof GPUTextureView
      ? textureBytes.get(b) ?? 0
      : "buffer" in b
      ? bindingSize(b)
      : b.size;
    const resource: GPUBindingResource = b instanceof GPUTextureView
      ? b
      : "buffer" in b
      ? { buffer: b.buffer, offset: b.offset, size: bindingSize(b) }
      : { buffer: b };
    entries.push({ binding: binding++, resource });
  }
  for (const name of Object.keys(buffers)) {
    if (!(name in spec.bindings)) throw new Error(`kernel ${spec.name}: unknown binding ${name}`);
  }
  const [x, y = 1, z = 1] = workgroups;
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  if ([x, y, z].some((n) => !Number.isInteger(n) || n < 0 || n > maxGroups)) {
    throw new Error(`kernel ${spec.name}: bad workgroup count [${x}, ${y}, ${z}]`);
  }
  device.pushErrorScope("validation");
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries,
    label: spec.name,
  });
  const error = await device.popErrorScope();
  if (error) throw new Error(`kernel ${spec.name}: bind group rejected: ${error.message}`);
  return {
    name: spec.name,
    pipeline,
    bindGroup,
    workgroups: [x, y, z],
    paramBuffer,
    params: paramBuffer ? { ...params } : undefined,
    boundBytes,
    spec,
  };
}

/** Rewrites a dispatch's parameters; takes effect for work submitted afterwards. */
export function setParams(gpu: Gpu, d: Dispatch, params: Record<string, number>): void {
  if (!d.paramBuffer) throw new Error(`kernel ${d.name} has no parameters`);
  gpu.device.queue.writeBuffer(d.paramBuffer, 0, packParams(d.spec, params));
  d.params = { ...params };
}

/** Workgroup counts for `count` invocations of `perGroup` each, folded into y past 65535. */
export function grid1d(count: number, perGroup: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(count / perGroup));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

/** Records dispatches, in order, into one compute pass (WebGPU orders their storage accesses). */
export function record(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    if (d.workgroups[0] * d.workgroups[1] * d.workgroups[2] === 0) continue;
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
}

/** Encodes dispatches into one command buffer, submits it and waits: for tests and one-offs. */
export async function runNow(gpu: Gpu, dispatches: readonly Dispatch[]): Promise<void> {
  const encoder = gpu.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  record(pass, dispatches);
  pass.end();
  gpu.device.queue.submit([encoder.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
}
