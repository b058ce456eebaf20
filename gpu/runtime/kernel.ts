// The one way to run WGSL: a kernel is WGSL plus a declared interface; a Dispatch is a kernel bound
// to its buffers and parameters once, then recorded into any number of command encoders. A list
// may also hold copy steps (copyStep: a buffer into a texture, say), which `encode` records
// between compute passes.
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
   * "operand write": the staging buffer of an operand texture (gpu/ops/matmul/texture.ts,
   * `OperandTexture`): texels are written with `store_<name>(xy, v)`, which rounds like
   * toOperand() and writes the texel in the texture's own bytes (row pitch `p.<name>Pitch`
   * texels), so that one copy moves them into the texture. On llvmpipe a texture store is a
   * per-lane, per-component loop (~7x a vec4 buffer store) and the copy is a memcpy.
   * "mirror read": a texture copy of an f32 tensor (gpu/ops/mirror.ts), read with
   * `load_<name>(i)`, the i-th vec4 of the tensor: a vectorised gather where a storage-buffer
   * read is a per-lane loop on llvmpipe.
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
  /** null on a copy step. */
  pipeline: GPUComputePipeline | null;
  bindGroup: GPUBindGroup | null;
  /** [0, 0, 0] on a copy step. */
  workgroups: [number, number, number];
  /** Present when the kernel has parameters; `setParams` rewrites them before the next submit. */
  paramBuffer?: GPUBuffer;
  /** The parameter values last written (the benchmark derives GEMM FLOPs from them). */
  params?: Record<string, number>;
  /** Bytes of every buffer and texture bound (the benchmark's GB/s: each binding once). */
  boundBytes: number;
  spec: KernelSpec;
  /** A copy step: recorded on the encoder between compute passes (see `encode`), not dispatched. */
  copy?: (encoder: GPUCommandEncoder) => void;
  /**
   * Reads only a layer's parameters (the pack of a conv's or linear layer's weight): a model
   * builder may run it once ahead of the list instead of where it stands (gpu/model/builder.ts's
   * `prepare`), once per training step or once per sampling request rather than once per pass.
   */
  hoist?: boolean;
  /**
   * The buffer ranges this step writes: a kernel's "write" and "operand write" bindings, a copy's
   * destination when it declares one. A copy step without it may write anything.
   */
  writes?: readonly BufferRange[];
  /** A mirror's refresh (gpu/ops/mirror.ts): the buffer range it copies into its texture. */
  refreshes?: BufferRange;
}

/** Bytes [offset, offset + size) of a buffer. */
export interface BufferRange {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** Marks dispatches as `hoist`: they read only parameters. */
export function hoisted(dispatches: Dispatch[]): Dispatch[] {
  for (const d of dispatches) d.hoist = true;
  return dispatches;
}

/**
 * A copy as a step of a dispatch list (buffer to texture, buffer to buffer): `bytes` is what it
 * moves (the benchmark's GB/s). Copies are transfers, not dispatches: `encode` ends the compute
 * pass before one and begins another after it; WebGPU orders them with the dispatches around them.
 */
export function copyStep(
  name: string,
  bytes: number,
  copy: (encoder: GPUCommandEncoder) => void,
  effects: Pick<Dispatch, "writes" | "refreshes"> = {},
): Dispatch {
  return {
    name,
    pipeline: null,
    bindGroup: null,
    workgroups: [0, 0, 0],
    boundBytes: bytes,
    spec: { name, bindings: {}, code: "" },
    copy,
    ...effects,
  };
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
    if (access === "operand" && type[0] === "write") {
      if (spec.params?.[`${name}Pitch`] !== "u32") {
        throw new Error(`kernel ${spec.name}: operand ${name} needs a u32 parameter ${name}Pitch`);
      }
      const f16 = spec.textureFormat === "rgba16float";
      lines.push(
        `@group(0) @binding(${binding++}) var<storage, read_write> ${name}: ${
          f16 ? "array<vec2<u32>>" : "array<vec4<f32>>"
        };`,
        `fn store_${name}(xy: vec2u, v: vec4f) { ${name}[xy.y * p.${name}Pitch + xy.x] = ${
          f16 ? "f16Texel(toOperand(v))" : "v"
        }; }`,
      );
      continue;
    }
    if (access === "mirror" && type[0] === "read") {
      lines.push(
        `@group(0) @binding(${binding++}) var ${name}: texture_storage_2d<rgba32float, read>;`,
        `fn load_${name}(i: u32) -> vec4f { return textureLoad(${name}, vec2u(i & ${
          MIRROR_WIDTH - 1
        }u, i >> ${Math.log2(MIRROR_WIDTH)}u)); }`,
      );
      continue;
    }
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
  if (Object.values(spec.bindings).some(usesOperandFormat)) {
    lines.push(spec.textureFormat === "rgba16float" ? ROUND_TO_F16 + F16_TEXEL : TO_OPERAND_F32);
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

// An rgba16float texel's bytes from four values toOperand() has made exact f16s (or +-inf, NaN).
// Built from the bits, not with pack2x16float, whose f32 -> f16 conversion is the driver's.
const F16_TEXEL = /* wgsl */ `
fn f16Bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a >= 0x7f800000u) { return sign | 0x7c00u | select(0u, 0x200u, a > 0x7f800000u); }
  // Below 2^-14: a subnormal f16, an integer multiple of 2^-24 (exact in f32).
  if (a < 0x38800000u) { return sign | u32(bitcast<f32>(a) * 16777216.0); }
  return sign | ((a - 0x38000000u) >> 13u);
}
fn f16Texel(v: vec4f) -> vec2u {
  return vec2u(f16Bits(v.x) | (f16Bits(v.y) << 16u), f16Bits(v.z) | (f16Bits(v.w) << 16u));
}`;

/** Texels per row of a mirror texture (gpu/ops/mirror.ts): rows of 8 KiB. */
export const MIRROR_WIDTH = 512;

/** Bindings whose declaration depends on the context's operand format. */
const usesOperandFormat = (decl: string): boolean => /^\s*(texture|operand)\b/.test(decl);

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
  if (Object.values(spec.bindings).some(usesOperandFormat)) {
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
  const writes: BufferRange[] = [];
  for (const [name, decl] of Object.entries(spec.bindings)) {
    const b = buffers[name];
    if (!b) throw new Error(`kernel ${spec.name}: no buffer given for binding ${name}`);
    if (/^(operand\s+)?write\b/.test(decl.trim()) && !(b instanceof GPUTextureView)) {
      writes.push(
        "buffer" in b ? { buffer: b.buffer, offset: b.offset, size: bindingSize(b) } : {
          buffer: b,
          offset: 0,
          size: b.size,
        },
      );
    }
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
    writes,
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

/**
 * Records dispatches, in order, into one compute pass (WebGPU orders their storage accesses). A
 * list with copy steps needs `encode`.
 */
export function record(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    if (d.copy) throw new Error(`record: ${d.name} is a copy step; encode the list instead`);
    if (d.workgroups[0] * d.workgroups[1] * d.workgroups[2] === 0) continue;
    pass.setPipeline(d.pipeline!);
    pass.setBindGroup(0, d.bindGroup!);
    pass.dispatchWorkgroups(...d.workgroups);
  }
}

/** Records a list, in order: its dispatches in compute passes, its copy steps between them. */
export function encode(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[]): void {
  let pass: GPUComputePassEncoder | null = null;
  for (const d of dispatches) {
    if (d.copy) {
      pass?.end();
      pass = null;
      d.copy(encoder);
      continue;
    }
    if (d.workgroups[0] * d.workgroups[1] * d.workgroups[2] === 0) continue;
    pass ??= encoder.beginComputePass();
    pass.setPipeline(d.pipeline!);
    pass.setBindGroup(0, d.bindGroup!);
    pass.dispatchWorkgroups(...d.workgroups);
  }
  pass?.end();
}

/**
 * `list` without the mirror refreshes (gpu/ops/mirror.ts) that would copy what their texture
 * already holds: every reader refreshes the mirror it reads, and a tensor read by several kernels
 * (a parameter read at every sampling step, an activation read by a layer's forward and its
 * backward) is otherwise copied once per reader. A refresh stays when it is the first of its
 * mirror in the list or when a step since its last one may have written what it copies (a write
 * binding over the range, or a copy that does not say what it writes). `marks` are positions in
 * `list` (a step's end, say); they come back as the same positions in the shorter list. Run the
 * result from its start: host writes between its submits would not be seen by the mirrors.
 */
export function withoutRedundantRefreshes(
  list: readonly Dispatch[],
  marks: readonly number[] = [],
): { list: Dispatch[]; marks: number[] } {
  const current = new Map<GPUBuffer, Set<Dispatch>>();
  const kept: Dispatch[] = [];
  const position: number[] = [];
  for (const d of list) {
    position.push(kept.length);
    if (d.refreshes) {
      let mirrors = current.get(d.refreshes.buffer);
      if (mirrors?.has(d)) continue;
      if (!mirrors) current.set(d.refreshes.buffer, mirrors = new Set());
      mirrors.add(d);
    } else if (!d.writes) {
      current.clear();
    } else {
      for (const w of d.writes) {
        for (const m of current.get(w.buffer) ?? []) {
          const r = m.refreshes!;
          if (r.offset < w.offset + w.size && w.offset < r.offset + r.size) {
            current.get(w.buffer)!.delete(m);
          }
        }
      }
    }
    kept.push(d);
  }
  position.push(kept.length);
  return { list: kept, marks: marks.map((i) => position[i]) };
}

/** Encodes a list into one command buffer, submits it and waits: for tests and one-offs. */
export async function runNow(gpu: Gpu, dispatches: readonly Dispatch[]): Promise<void> {
  const encoder = gpu.device.createCommandEncoder();
  encode(encoder, dispatches);
  gpu.device.queue.submit([encoder.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
}
