// conv2d's shapes, shared by every technique: the shape a caller gives, the geometry derived from it
// (padding, output size), the dims a kernel sees, and the size checks. No kernels here.
//
// NCHW: x [B, Cin, H, W], weight [Cout, Cin, k, k], bias [Cout], y [B, Cout, OH, OW]; kernel 3
// (padding 1, stride 1 or 2) and kernel 1 (padding 0, stride 1).
import type { Tensor } from "../../runtime/tensor.ts";

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

/**
 * A conv as its kernel sees it: "in" is what it reads ([B, inC, inH, inW]), "out" what it writes.
 * The stride-1 input gradient is a conv of dy into dx, so there in and out swap.
 */
export interface ConvDims {
  batch: number;
  inC: number;
  outC: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  kernel: 1 | 3;
  stride: 1 | 2;
}

/** The dims of the conv y = conv(x, weight) itself. */
export function convDims(g: Conv2dGeometry): ConvDims {
  return {
    batch: g.batch,
    inC: g.inChannels,
    outC: g.outChannels,
    inH: g.height,
    inW: g.width,
    outH: g.outHeight,
    outW: g.outWidth,
    kernel: g.kernel,
    stride: g.stride,
  };
}

/** The parameters every buffer conv kernel takes (the "in"/"out" of the conv as it sees it). */
export const convParams = {
  inC: "u32",
  outC: "u32",
  inH: "u32",
  inW: "u32",
  outH: "u32",
  outW: "u32",
  positions: "u32",
} as const;

/** Whether two convs have the same dims (a packed input made for one is the other's). */
export const sameConvDims = (a: ConvDims, b: ConvDims): boolean =>
  (Object.keys(a) as (keyof ConvDims)[]).every((k) => a[k] === b[k]);
