// Data movement and simple sums: add/copy, channel bias, spatial sums, nearest 2x upsampling,
// channel concat/split and batched transposes. One invocation per output element throughout.
import type { Gpu } from "../runtime/device.ts";
import {
  copyStep,
  createDispatch,
  type Dispatch,
  grid1d,
  type KernelSpec,
} from "../runtime/kernel.ts";
import type { Tensor } from "../runtime/tensor.ts";

const WG = 64;

const ENTRY = /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  body(i);
}`;

/**
 * A 1-D elementwise kernel: `body(i)` runs for i < p.n; the output is written through `store`.
 * With `element` "vec4f" every binding is an array<vec4f> and i counts texels of four values.
 */
function elementKernel(
  name: string,
  bindings: Record<string, string>,
  params: Record<string, "u32">,
  body: string,
  accumulate: boolean,
  out = "y",
  element: "f32" | "vec4f" = "f32",
): KernelSpec {
  const typed = element === "f32" ? bindings : Object.fromEntries(
    Object.entries(bindings).map(([name, access]) => [name, `${access} array<vec4f>`]),
  );
  return {
    name,
    params: { n: "u32", ...params },
    bindings: typed,
    consts: { WG, ACCUMULATE: accumulate },
    code: /* wgsl */ `
fn store(i: u32, v: ${element}) { if (ACCUMULATE) { ${out}[i] = ${out}[i] + v; } else { ${out}[i] = v; } }
fn body(i: u32) {
${body}
}
${ENTRY}`,
  };
}

function run(
  gpu: Gpu,
  spec: KernelSpec,
  buffers: Record<string, Tensor>,
  n: number,
  params: Record<string, number> = {},
): Promise<Dispatch> {
  return createDispatch(gpu, spec, buffers, grid1d(n, WG), { n, ...params });
}

/**
 * Whether n elements of every tensor can be read as vec4s: on llvmpipe a vec4 storage load costs
 * about what one f32 load does (a 61,440-element add: 274 against 410 µs).
 */
const inTexels = (n: number, ...tensors: Tensor[]) =>
  n % 4 === 0 && tensors.every((t) => t.offset % 16 === 0);

/** An elementwise kernel over n values of every buffer, four an invocation where they allow. */
function runInTexels(
  gpu: Gpu,
  name: string,
  bindings: Record<string, string>,
  body: string,
  buffers: Record<string, Tensor>,
  n: number,
  accumulate: boolean,
  out: string,
): Promise<Dispatch> {
  const element = inTexels(n, ...Object.values(buffers)) ? "vec4f" : "f32";
  const spec = elementKernel(name, bindings, {}, body, accumulate, out, element);
  return run(gpu, spec, buffers, element === "f32" ? n : n / 4);
}

/** y = x, or y += x with `accumulate` (also the copy op). */
export function addInto(
  gpu: Gpu,
  args: { x: Tensor; y: Tensor; accumulate?: boolean },
): Promise<Dispatch> {
  const { x, y } = args;
  const bindings = { x: "read", y: "write" };
  const body = "  store(i, x[i]);";
  return runInTexels(gpu, "addInto", bindings, body, { x, y }, x.size, !!args.accumulate, "y");
}

/** y = x, as a copy step (a memcpy; no dispatch): x and y hold the same number of elements. */
export function copyTensor(args: { x: Tensor; y: Tensor }): Dispatch {
  const { x, y } = args;
  if (x.size !== y.size || x.dtype !== y.dtype) {
    throw new Error(`copyTensor: [${x.shape}] ${x.dtype} into [${y.shape}] ${y.dtype}`);
  }
  const bytes = x.size * (x.dtype === "f16" ? 2 : 4);
  if (bytes % 4) throw new Error(`copyTensor: ${x.size} f16 values are not whole words`);
  return copyStep(
    "copyTensor",
    bytes,
    (encoder) => encoder.copyBufferToBuffer(x.buffer, x.offset, y.buffer, y.offset, bytes),
    { writes: [{ buffer: y.buffer, offset: y.offset, size: bytes }] },
  );
}

/** out = a + b. */
export function add(gpu: Gpu, args: { a: Tensor; b: Tensor; out: Tensor }): Promise<Dispatch> {
  const bindings = { a: "read", b: "read", out: "write" };
  const body = "  store(i, a[i] + b[i]);";
  return runInTexels(gpu, "add", bindings, body, args, args.a.size, false, "out");
}

/** In place: x[b, c, s] += bias[b * channels + c] (the time embedding into a ResNet block). */
export function addChannelBias(
  gpu: Gpu,
  args: { x: Tensor; bias: Tensor; batch: number; channels: number; spatial: number },
): Promise<Dispatch> {
  const { x, bias, batch, channels, spatial } = args;
  const spec = elementKernel(
    "addChannelBias",
    { bias: "read", x: "write" },
    { spatial: "u32" },
    "  store(i, bias[i / p.spatial]);",
    true,
    "x",
  );
  return run(gpu, spec, { bias, x }, batch * channels * spatial, { spatial });
}

/** y[b, c] (=|+=) sum_s x[b, c, s]: addChannelBias's backward. */
export function sumSpatial(
  gpu: Gpu,
  args: {
    x: Tensor;
    y: Tensor;
    batch: number;
    channels: number;
    spatial: number;
    accumulate?: boolean;
  },
): Promise<Dispatch> {
  const { x, y, batch, channels, spatial } = args;
  const spec = elementKernel(
    "sumSpatial",
    { x: "read", y: "write" },
    { spatial: "u32" },
    /* wgsl */ `
  var s = 0.0;
  for (var k = 0u; k < p.spatial; k++) { s += x[i * p.spatial + k]; }
  store(i, s);`,
    args.accumulate ?? false,
  );
  return run(gpu, spec, { x, y }, batch * channels, { spatial });
}

/** y[p, i, j] = x[p, i/2, j/2]; x: [planes, H, W], y: [planes, 2H, 2W]. */
export function upsampleNearest2xForward(
  gpu: Gpu,
  args: { x: Tensor; y: Tensor; planes: number; height: number; width: number },
): Promise<Dispatch> {
  const { x, y, planes, height, width } = args;
  const spec = elementKernel(
    "upsampleNearest2xForward",
    { x: "read", y: "write" },
    { width: "u32" },
    /* wgsl */ `
  let w2 = 2u * p.width;
  let row = i / w2; // plane * 2H + output row
  let col = i - row * w2;
  store(i, x[(row / 2u) * p.width + col / 2u]);`,
    false,
  );
  return run(gpu, spec, { x, y }, planes * 4 * height * width, { width });
}

/** dx[p, i, j] (=|+=) the sum of the 2x2 block of dy it was copied to. */
export function upsampleNearest2xBackward(
  gpu: Gpu,
  args: {
    dy: Tensor;
    dx: Tensor;
    planes: number;
    height: number;
    width: number;
    accumulate?: boolean;
  },
): Promise<Dispatch> {
  const { dy, dx, planes, height, width } = args;
  const spec = elementKernel(
    "upsampleNearest2xBackward",
    { dy: "read", dx: "write" },
    { width: "u32" },
    /* wgsl */ `
  let row = i / p.width; // plane * H + input row
  let col = i - row * p.width;
  let top = 2u * row * 2u * p.width + 2u * col; // (plane * 2H + 2 * input row) * 2W + 2 * col
  let bottom = top + 2u * p.width;
  store(i, (dy[top] + dy[top + 1u]) + (dy[bottom] + dy[bottom + 1u]));`,
    args.accumulate ?? false,
    "dx",
  );
  return run(gpu, spec, { dy, dx }, planes * height * width, { width });
}

/**
 * One copy step that moves, for every item, `size` elements from `src` (items `srcStride` apart)
 * into `dst` (items `dstStride` apart): the concat and split of channels as memcpys.
 */
function itemCopies(
  name: string,
  parts: {
    src: Tensor;
    srcAt: number;
    srcStride: number;
    dst: Tensor;
    dstAt: number;
    dstStride: number;
    size: number;
  }[],
  batch: number,
): Dispatch {
  const bytes = parts.reduce((n, q) => n + 4 * q.size * batch, 0);
  return copyStep(name, bytes, (encoder) => {
    for (const q of parts) {
      for (let item = 0; item < batch; item++) {
        encoder.copyBufferToBuffer(
          q.src.buffer,
          q.src.offset + 4 * (item * q.srcStride + q.srcAt),
          q.dst.buffer,
          q.dst.offset + 4 * (item * q.dstStride + q.dstAt),
          4 * q.size,
        );
      }
    }
  });
}

/**
 * out[b] = [a[b]; b[b]] along channels; a: [B, Ca, S], b: [B, Cb, S], out: [B, Ca + Cb, S]. A copy
 * step (2B memcpys): no per-lane storage loads.
 */
export function concatChannels(
  _gpu: Gpu, // the ops' common signature: a copy step needs no device until it is encoded
  args: {
    a: Tensor;
    b: Tensor;
    out: Tensor;
    batch: number;
    channelsA: number;
    channelsB: number;
    spatial: number;
  },
): Promise<Dispatch> {
  const { a, b, out, batch, channelsA, channelsB, spatial } = args;
  const [sizeA, sizeB] = [channelsA * spatial, channelsB * spatial];
  if (a.size < batch * sizeA || b.size < batch * sizeB || out.size < batch * (sizeA + sizeB)) {
    throw new Error("concatChannels: tensors too small for the shape");
  }
  const item = sizeA + sizeB;
  return Promise.resolve(itemCopies("concatChannels", [
    { src: a, srcAt: 0, srcStride: sizeA, dst: out, dstAt: 0, dstStride: item, size: sizeA },
    { src: b, srcAt: 0, srcStride: sizeB, dst: out, dstAt: sizeA, dstStride: item, size: sizeB },
  ], batch));
}

/** concatChannels as a kernel (one invocation per output element): the test's reference. */
export function concatChannelsKernel(
  gpu: Gpu,
  args: {
    a: Tensor;
    b: Tensor;
    out: Tensor;
    batch: number;
    channelsA: number;
    channelsB: number;
    spatial: number;
  },
): Promise<Dispatch> {
  const { a, b, out, batch, channelsA, channelsB, spatial } = args;
  const spec = elementKernel(
    "concatChannels",
    { a: "read", b: "read", out: "write" },
    { sizeA: "u32", sizeB: "u32" },
    /* wgsl */ `
  let item = i / (p.sizeA + p.sizeB);
  let k = i - item * (p.sizeA + p.sizeB);
  if (k < p.sizeA) { store(i, a[item * p.sizeA + k]); } else { store(i, b[item * p.sizeB + k - p.sizeA]); }`,
    false,
    "out",
  );
  const sizeA = channelsA * spatial;
  const sizeB = channelsB * spatial;
  return run(gpu, spec, { a, b, out }, batch * (sizeA + sizeB), { sizeA, sizeB });
}

/** concatChannels' backward: da (=|+=) dOut[:, :Ca], db (=|+=) dOut[:, Ca:]. */
export function splitChannels(
  gpu: Gpu,
  args: {
    dOut: Tensor;
    da: Tensor;
    db: Tensor;
    batch: number;
    channelsA: number;
    channelsB: number;
    spatial: number;
    accumulate?: boolean;
  },
): Promise<Dispatch> {
  const { dOut, da, db, batch, channelsA, channelsB, spatial } = args;
  const acc = args.accumulate ?? false;
  if (!acc) {
    // Overwriting: two copies per item (the usual case: both gradients are first written here).
    const [sizeA, sizeB] = [channelsA * spatial, channelsB * spatial];
    const item = sizeA + sizeB;
    return Promise.resolve(itemCopies("splitChannels", [
      { src: dOut, srcAt: 0, srcStride: item, dst: da, dstAt: 0, dstStride: sizeA, size: sizeA },
      {
        src: dOut,
        srcAt: sizeA,
        srcStride: item,
        dst: db,
        dstAt: 0,
        dstStride: sizeB,
        size: sizeB,
      },
    ], batch));
  }
  const spec: KernelSpec = {
    name: "splitChannels",
    params: { n: "u32", sizeA: "u32", sizeB: "u32" },
    bindings: { dOut: "read", da: "write", db: "write" },
    consts: { WG, ACCUMULATE: acc },
    code: /* wgsl */ `
fn body(i: u32) {
  let item = i / (p.sizeA + p.sizeB);
  let k = i - item * (p.sizeA + p.sizeB);
  let g = dOut[i];
  if (k < p.sizeA) {
    let j = item * p.sizeA + k;
    if (ACCUMULATE) { da[j] = da[j] + g; } else { da[j] = g; }
  } else {
    let j = item * p.sizeB + k - p.sizeA;
    if (ACCUMULATE) { db[j] = db[j] + g; } else { db[j] = g; }
  }
}
${ENTRY}`,
  };
  const sizeA = channelsA * spatial;
  const sizeB = channelsB * spatial;
  return run(gpu, spec, { dOut, da, db }, batch * (sizeA + sizeB), { sizeA, sizeB });
}

/** y[b, c, r] (=|+=) x[b, r, c]; x: [B, rows, cols] (NCHW <-> tokens [B, HW, C]). */
export function transpose(
  gpu: Gpu,
  args: { x: Tensor; y: Tensor; batch: number; rows: number; cols: number; accumulate?: boolean },
): Promise<Dispatch> {
  const { x, y, batch, rows, cols } = args;
  const spec = elementKernel(
    "transpose",
    { x: "read", y: "write" },
    { rows: "u32", cols: "u32" },
    /* wgsl */ `
  let plane = p.rows * p.cols;
  let b = i / plane;
  let k = i - b * plane; // c * rows + r
  let c = k / p.rows;
  let r = k - c * p.rows;
  store(i, x[b * plane + r * p.cols + c]);`,
    args.accumulate ?? false,
  );
  return run(gpu, spec, { x, y }, batch * rows * cols, { rows, cols });
}
