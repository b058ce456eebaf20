// 2-D convolution, NCHW: kernel 3 (padding 1, stride 1 or 2) and kernel 1 (padding 0, stride 1).
// x [B, Cin, H, W], weight [Cout, Cin, k, k], bias [Cout], y [B, Cout, OH, OW].
//
// Forward, and the input gradient of a stride-1 conv (a conv of dy with the flipped, transposed
// weights), share one direct kernel: each invocation computes a ROWS x COLS x OC block of outputs
// from one (window + OC*k*k) load per input channel, with the loops unrolled into scalar registers
// by the generator below. No workgroup memory. The backward kernels are in conv2d_backward.ts;
// plain one-element-per-invocation kernels, the tests' reference, are in conv2d_reference.ts.
// CPU adapters ("cpu" class, llvmpipe) pack the operands into storage textures first and run the
// kernels of conv2d_cpu.ts / conv2d_cpu_gemm.ts (llvmpipe's storage-buffer reads are ~10x dearer
// than its texture reads); the buffer kernels here remain their fallback past the texture size
// limit. Discrete GPUs ("gpu" class) run the buffer kernels with 64-wide workgroups for now; an
// implicit GEMM with workgroup tiles would be the better fit there.
import { type AdapterClass, type Gpu, usesTexturePath } from "../../runtime/device.ts";
import { directConvTexture } from "./direct_texture.ts";
import { createDispatch, type Dispatch, type KernelSpec } from "../../runtime/kernel.ts";
import type { Tensor } from "../../runtime/tensor.ts";

export { conv2dBackward } from "./gradient_buffer.ts";

export interface Conv2dShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  height: number;
  width: number;
  kernel: 1 | 3;
  stride: 1 | 2;
}

export interface Conv2dGeometry extends Conv2dShape {
  padding: number;
  outHeight: number;
  outWidth: number;
}

/** Checks the shape and derives padding and output size: OH = floor((H + 2p - k) / stride) + 1. */
export function conv2dGeometry(shape: Conv2dShape): Conv2dGeometry {
  const { batch, inChannels, outChannels, height, width, kernel, stride } = shape;
  if (!(kernel === 3 && (stride === 1 || stride === 2)) && !(kernel === 1 && stride === 1)) {
    throw new Error(`conv2d: kernel ${kernel} stride ${stride} is not supported`);
  }
  for (const [name, v] of Object.entries({ batch, inChannels, outChannels, height, width })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`conv2d: ${name} = ${v}`);
  }
  const padding = kernel === 3 ? 1 : 0;
  const outHeight = Math.floor((height + 2 * padding - kernel) / stride) + 1;
  const outWidth = Math.floor((width + 2 * padding - kernel) / stride) + 1;
  return { ...shape, padding, outHeight, outWidth };
}

/** Throws unless the tensor holds exactly `size` elements: a wrong shape must not read garbage. */
export function expectSize(t: Tensor, size: number, what: string): void {
  if (t.size !== size) throw new Error(`conv2d: ${what} has ${t.size} elements, expected ${size}`);
}

/** [0, 1, ..., n-1]: the kernels are generated with their small loops unrolled. */
export const range = (n: number): number[] => [...Array(n).keys()];
/** Joins generated WGSL lines, one per item. */
export const each = <T>(items: T[], f: (item: T) => string): string => items.map(f).join("\n  ");
/** All pairs (a, b) of two ranges, row-major. */
export const pairs = (n: number, m: number): [number, number][] =>
  range(n).flatMap((a) => range(m).map((b) => [a, b] as [number, number]));

/** The parameters every conv kernel takes (the "in"/"out" of the conv as the kernel sees it). */
export const convParams = {
  inC: "u32",
  outC: "u32",
  inH: "u32",
  inW: "u32",
  outH: "u32",
  outW: "u32",
  positions: "u32",
} as const;

/**
 * Output tile per invocation: ROWS x COLS positions x OC channels. Stride 2 takes half the rows:
 * its input window grows twice as fast, and so does LLVM's compile time for the unrolled body.
 */
const tileRows = (stride: number) => stride === 1 ? 4 : 2;
const COLS = 4;
const OC = 8;
/** Workgroup width along the SIMD axis: llvmpipe runs 8 f32 lanes per 256-bit vector. */
export function laneWidth(gpu: Gpu): number {
  return gpu.adapterClass === "cpu" ? 8 : 64;
}

export interface DirectConvConfig {
  kernel: 1 | 3;
  stride: 1 | 2;
  /** Input gradient of a stride-1 conv: weight is read as [in, out, k, k] with the taps flipped. */
  transposed: boolean;
  bias: boolean;
  accumulate: boolean;
  wg: number;
}

/** The direct conv kernel: ROWS x COLS output positions x OC output channels per invocation. */
export function directConvKernel(c: DirectConvConfig): KernelSpec {
  const K = c.kernel, S = c.stride, P = (K - 1) / 2, KK = K * K, ROWS = tileRows(S);
  const inRows = (ROWS - 1) * S + K;
  const inCols = (COLS - 1) * S + K;
  const window = pairs(inRows, inCols); // [input row r, input column t] of the loaded window
  const outputs = pairs(ROWS, COLS);
  const weightOffset = (j: number, ky: number, kx: number) =>
    c.transposed ? `wb${j} + wo + ${KK - 1 - (ky * K + kx)}u` : `wb${j} + wo + ${ky * K + kx}u`;
  const bindings: Record<string, string> = { x: "read", weight: "read" };
  if (c.bias) bindings.bias = "read";
  bindings.y = "write";
  return {
    name: `conv2dDirect${K}x${K}s${S}${c.transposed ? "T" : ""}`,
    params: { ...convParams, tilesX: "u32", tilesY: "u32" },
    bindings,
    consts: { WG: c.wg, ROWS, COLS, OC, S, KK, ACCUMULATE: c.accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  // Lanes run over (tile, batch) so that small feature maps still fill the SIMD width.
  if (gid.x >= p.positions) { return; }
  let ox0 = (gid.x % p.tilesX) * COLS;
  let oy0 = (gid.x / p.tilesX % p.tilesY) * ROWS;
  let b = gid.x / (p.tilesX * p.tilesY);
  let ocBase = wid.y * OC;
  let ix0 = i32(ox0 * S) - ${P};
  let iy0 = i32(oy0 * S) - ${P};
  let inW = i32(p.inW);
  let inH = i32(p.inH);
  // Padding: out-of-range taps read element 0 and are masked to zero.
  ${each(range(inCols), (t) => `let cm${t} = ix0 + ${t} >= 0 && ix0 + ${t} < inW;`)}
  ${each(range(inRows), (r) => `let rm${r} = iy0 + ${r} >= 0 && iy0 + ${r} < inH;`)}
  ${
      each(window, ([r, t]) =>
        `let m${r}_${t} = rm${r} && cm${t};
  let o${r}_${t} = select(0u, u32((iy0 + ${r}) * inW + ix0 + ${t}), m${r}_${t});`)
    }
  // Channels past the end of a partial tile compute a clamped channel and are not stored.
  ${each(range(OC), (j) => `let oc${j} = min(ocBase + ${j}u, p.outC - 1u);`)}
  ${
      each(
        range(OC),
        (j) => c.transposed ? `let wb${j} = oc${j} * KK;` : `let wb${j} = oc${j} * p.inC * KK;`,
      )
    }
  ${each(range(OC), (j) => each(outputs, ([q, u]) => `var a${j}_${q}_${u} = 0.0;`))}
  let plane = p.inH * p.inW;
  var base = b * p.inC * plane;
  for (var ic = 0u; ic < p.inC; ic++) {
    ${each(window, ([r, t]) => `let v${r}_${t} = select(0.0, x[base + o${r}_${t}], m${r}_${t});`)}
    let wo = ${c.transposed ? "ic * p.outC * KK" : "ic * KK"};
    ${
      each(range(OC), (j) =>
        each(pairs(K, K), ([ky, kx]) =>
          `{ let w = weight[${weightOffset(j, ky, kx)}];
      ${
            each(outputs, ([q, u]) =>
              `a${j}_${q}_${u} = fma(w, v${q * S + ky}_${u * S + kx}, a${j}_${q}_${u});`)
          } }`))
    }
    base += plane;
  }
  ${
      each(range(OC), (j) =>
        each(outputs, ([q, u]) =>
          `if (oy0 + ${q}u < p.outH && ox0 + ${u}u < p.outW && ocBase + ${j}u < p.outC) {
    let i = ((b * p.outC + oc${j}) * p.outH + oy0 + ${q}u) * p.outW + ox0 + ${u}u;
    let v = a${j}_${q}_${u}${c.bias ? ` + bias[oc${j}]` : ""};
    if (ACCUMULATE) { y[i] = y[i] + v; } else { y[i] = v; }
  }`))
    }
}`,
  };
}

/** Dispatch of the direct kernel over an output of [batch, outC, outH, outW]. */
export function directConv(
  gpu: Gpu,
  config: Omit<DirectConvConfig, "wg">,
  buffers: Record<string, Tensor>,
  dims: {
    batch: number;
    inC: number;
    outC: number;
    inH: number;
    inW: number;
    outH: number;
    outW: number;
  },
): Promise<Dispatch> {
  const wg = laneWidth(gpu);
  const tilesX = Math.ceil(dims.outW / COLS);
  const tilesY = Math.ceil(dims.outH / tileRows(config.stride));
  const positions = tilesX * tilesY * dims.batch;
  const { batch: _, ...params } = dims;
  return createDispatch(
    gpu,
    directConvKernel({ ...config, wg }),
    buffers,
    [Math.ceil(positions / wg), Math.ceil(dims.outC / OC), 1],
    { ...params, positions, tilesX, tilesY },
  );
}

/** y = conv(x, weight) (+ bias). */
export async function conv2dForward(
  gpu: Gpu,
  args: {
    x: Tensor;
    weight: Tensor;
    bias?: Tensor;
    y: Tensor;
    shape: Conv2dShape;
    /** Forces a configuration (tests run both); default gpu.adapterClass. */
    config?: AdapterClass;
  },
): Promise<Dispatch[]> {
  const g = conv2dGeometry(args.shape);
  const { batch, inChannels, outChannels, height, width, kernel, outHeight, outWidth } = g;
  expectSize(args.x, batch * inChannels * height * width, "x");
  expectSize(args.weight, outChannels * inChannels * kernel * kernel, "weight");
  if (args.bias) expectSize(args.bias, outChannels, "bias");
  expectSize(args.y, batch * outChannels * outHeight * outWidth, "y");
  const dims = {
    batch,
    inC: inChannels,
    outC: outChannels,
    inH: height,
    inW: width,
    outH: outHeight,
    outW: outWidth,
  };
  if (usesTexturePath(gpu, args.config)) {
    const packed = await directConvTexture(gpu, { ...dims, kernel, stride: g.stride }, args, {
      transposed: false,
      accumulate: false,
    });
    if (packed) return packed;
  }
  const buffers: Record<string, Tensor> = { x: args.x, weight: args.weight, y: args.y };
  if (args.bias) buffers.bias = args.bias;
  return [
    await directConv(
      gpu,
      { kernel, stride: g.stride, transposed: false, bias: !!args.bias, accumulate: false },
      buffers,
      dims,
    ),
  ];
}
