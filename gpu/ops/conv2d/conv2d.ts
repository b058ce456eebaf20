// 2-D convolution, NCHW, forward and backward: the entry points, which check the tensors and take
// the technique the backend profile chooses per operand precision (`operandPlan(gpu).conv2d`).
// Shapes (geometry.ts): x [B, Cin, H, W], weight [Cout, Cin, k, k], bias [Cout], y [B, Cout, OH, OW];
// kernel 3 (padding 1, stride 1 or 2) and kernel 1 (padding 0, stride 1).
//
//                     texture (llvmpipe, f16 operands)         buffer (discrete GPUs)
//   forward           direct_texture.ts                         direct_buffer.ts
//   dx, stride 1      direct_texture.ts (flipped weights)       direct_buffer.ts (flipped weights)
//   dx, stride 2      implicit_gemm_texture.ts (GEMM + col2im)  gradient_buffer.ts (gather)
//   dWeight, dBias    implicit_gemm_texture.ts (one GEMM)       gradient_buffer.ts (split reduction)
//
// The texture kernels pack their operands into storage textures first (llvmpipe's storage-buffer
// reads are ~10x dearer than its texture reads); where a packed texture would exceed the size limit
// they return null and the buffer kernel runs instead. reference.ts holds the plain
// one-output-per-invocation kernels the tests hold all of these to.
import { type Gpu, operandPlan } from "../../runtime/device.ts";
import type { Dispatch } from "../../runtime/kernel.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import { addChannelBias } from "../elementwise.ts";
import { directConvBuffer } from "./direct_buffer.ts";
import {
  directConvTexture,
  directInputTarget,
  type PackedInput,
  packUpsampledInput,
} from "./direct_texture.ts";
import {
  conv2dGeometry,
  type Conv2dShape,
  type ConvDims,
  convDims,
  expectSize,
} from "./geometry.ts";
import { inputGradStride2Buffer, weightGradBuffer } from "./gradient_buffer.ts";
import { inputGradStride2Texture, weightGradTexture } from "./implicit_gemm_texture.ts";

export { type Conv2dGeometry, conv2dGeometry, type Conv2dShape } from "./geometry.ts";

/**
 * Carries a conv's packed input from its forward to its backward (the texture technique's weight
 * gradient reads the forward's texture instead of packing x again): pass the same object to both,
 * and leave x unchanged between them (a training step's activations are).
 */
export interface ConvInputSlot {
  packed?: PackedInput;
  /**
   * Set before the forward by a producer that wrote the conv's packed input itself (from
   * conv2dInputTarget): the forward reads it and packs nothing.
   */
  written?: PackedInput;
}

/**
 * The packed input texture conv2dForward would pack x into, for a producer that writes it instead
 * of x (GroupNorm+SiLU: gpu/ops/group_norm_into_conv.ts); put it in the conv's slot as `written`.
 * Null where the profile's forward is not the texture technique or the layout does not apply.
 */
export function conv2dInputTarget(
  gpu: Gpu,
  args: { x: Tensor; shape: Conv2dShape },
): PackedInput | null {
  // The weight gradient must read the texture too: nothing else holds the values.
  const plan = operandPlan(gpu).conv2d;
  if (plan.forward !== "texture" || plan.weightGrad !== "texture") return null;
  const g = conv2dGeometry(args.shape);
  expectSize(args.x, g.batch * g.inChannels * g.height * g.width, "x");
  return directInputTarget(gpu, convDims(g), args.x);
}

/**
 * Nearest-x2(x) written as the packed input of the conv that reads y = upsample(x) (diffusers'
 * Upsample2D), and that input (put it in the conv's ConvInputSlot as `written`): y is never
 * stored. Null where the profile's conv does not read a packed texture or x's width is not a
 * multiple of 4; the caller then upsamples into y and the conv packs it.
 */
export async function conv2dUpsampledInput(
  gpu: Gpu,
  args: { x: Tensor; y: Tensor; shape: Conv2dShape },
): Promise<{ dispatches: Dispatch[]; written: PackedInput } | null> {
  if ((args.shape.width / 2) % 4) return null;
  const target = conv2dInputTarget(gpu, { x: args.y, shape: args.shape });
  const dispatches = target && await packUpsampledInput(gpu, args.x, target);
  return dispatches ? { dispatches, written: target! } : null;
}

/**
 * y (=|+=) conv(x, weight) (+ bias) (+ itemBias). `itemBias` [batch, outChannels] is added to every
 * position of its item and channel (a ResNet's time embedding); the texture technique adds it in
 * the conv's own stores, the buffer one with addChannelBias after it. `accumulate` adds into y (a
 * ResNet's residual: the shortcut written first).
 */
export async function conv2dForward(
  gpu: Gpu,
  args: {
    x: Tensor;
    weight: Tensor;
    bias?: Tensor;
    itemBias?: Tensor;
    y: Tensor;
    shape: Conv2dShape;
    accumulate?: boolean;
    inputSlot?: ConvInputSlot;
  },
): Promise<Dispatch[]> {
  const g = conv2dGeometry(args.shape);
  const { batch, inChannels, outChannels, height, width, kernel, outHeight, outWidth } = g;
  expectSize(args.x, batch * inChannels * height * width, "x");
  expectSize(args.weight, outChannels * inChannels * kernel * kernel, "weight");
  if (args.bias) expectSize(args.bias, outChannels, "bias");
  if (args.itemBias) expectSize(args.itemBias, batch * outChannels, "itemBias");
  expectSize(args.y, batch * outChannels * outHeight * outWidth, "y");
  const dims = convDims(g);
  const accumulate = args.accumulate ?? false;
  if (operandPlan(gpu).conv2d.forward === "texture") {
    const keep = args.inputSlot && ((p: PackedInput) => args.inputSlot!.packed = p);
    const packed = await directConvTexture(gpu, dims, args, {
      transposed: false,
      accumulate,
      keep,
      packed: args.inputSlot?.written,
    });
    if (packed) return packed;
  }
  if (args.inputSlot?.written) {
    throw new Error(
      `conv2d: ${args.x.label}'s packed input was written, but this conv cannot read it`,
    );
  }
  const buffers: Record<string, Tensor> = { x: args.x, weight: args.weight, y: args.y };
  if (args.bias) buffers.bias = args.bias;
  const out = [
    await directConvBuffer(gpu, dims, buffers, {
      transposed: false,
      bias: !!args.bias,
      accumulate,
    }),
  ];
  if (args.itemBias) {
    out.push(
      await addChannelBias(gpu, {
        x: args.y,
        bias: args.itemBias,
        batch,
        channels: outChannels,
        spatial: outHeight * outWidth,
      }),
    );
  }
  return out;
}

/** dx (=|+=) dL/dx, dWeight = dL/dweight, dBias = dL/dbias for y = conv(x, weight) + bias. */
export async function conv2dBackward(
  gpu: Gpu,
  args: {
    x: Tensor;
    weight: Tensor;
    dy: Tensor;
    dx?: Tensor;
    dWeight: Tensor;
    dBias?: Tensor;
    shape: Conv2dShape;
    accumulateDx?: boolean;
    /** The forward's (conv2dForward with the same slot). */
    inputSlot?: ConvInputSlot;
  },
): Promise<Dispatch[]> {
  const g = conv2dGeometry(args.shape);
  const { batch, inChannels, outChannels, height, width, kernel, stride } = g;
  const { x, weight, dy, dx, dWeight, dBias } = args;
  expectSize(x, batch * inChannels * height * width, "x");
  expectSize(weight, outChannels * inChannels * kernel * kernel, "weight");
  expectSize(dy, batch * outChannels * g.outHeight * g.outWidth, "dy");
  expectSize(dWeight, weight.size, "dWeight");
  if (dx) expectSize(dx, x.size, "dx");
  if (dBias) expectSize(dBias, outChannels, "dBias");
  const plan = operandPlan(gpu).conv2d;
  const accumulate = !!args.accumulateDx;
  const dims = convDims(g);
  const out: Dispatch[] = [];

  if (dx && stride === 1) {
    // The input gradient's "output" is dx [B, Cin, H, W], its "input" dy [B, Cout, OH, OW].
    const transposed: ConvDims = {
      batch,
      inC: outChannels,
      outC: inChannels,
      inH: g.outHeight,
      inW: g.outWidth,
      outH: height,
      outW: width,
      kernel,
      stride: 1,
    };
    const buffers = { x: dy, weight, y: dx };
    const packed = plan.inputGrad === "texture" &&
      await directConvTexture(gpu, transposed, buffers, { transposed: true, accumulate });
    const flags = { transposed: true, bias: false, accumulate };
    out.push(...packed || [await directConvBuffer(gpu, transposed, buffers, flags)]);
  } else if (dx) {
    const packed = plan.inputGrad === "texture" &&
      await inputGradStride2Texture(gpu, dims, { weight, dy, dx }, accumulate);
    out.push(...packed || await inputGradStride2Buffer(gpu, dims, { weight, dy, dx }, accumulate));
  }

  const packed = plan.weightGrad === "texture" &&
    await weightGradTexture(gpu, dims, { x, dy, dWeight, dBias }, args.inputSlot?.packed);
  out.push(...packed || await weightGradBuffer(gpu, dims, { x, dy, dWeight, dBias }));
  return out;
}
