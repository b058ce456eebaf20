// diffusers' ResnetBlock2D (time_scale_shift "default", output scale 1), Downsample2D and
// Upsample2D, forward and backward.
//   h = conv1(silu(norm1(x))); h += time_emb_proj(silu(temb))[:, :, None, None]
//   h = conv2(dropout(silu(norm2(h)))); out = shortcut(x) + h   (1x1 conv shortcut when cin != cout)
import {
  conv2dBackward,
  conv2dForward,
  type Conv2dShape,
  conv2dUpsampledInput,
  type ConvInputSlot,
} from "../ops/conv2d/conv2d.ts";
import { dropoutBackward, dropoutForward } from "../ops/dropout.ts";
import {
  addInto,
  copyTensor,
  sumSpatial,
  upsampleNearest2xBackward,
  upsampleNearest2xForward,
} from "../ops/elementwise.ts";
import { groupNormBackward, groupNormForward } from "../ops/group_norm.ts";
import {
  groupNormSiluIntoConv,
  type GroupNormSiluIntoConvArgs,
} from "../ops/group_norm_into_conv.ts";
import type { Dispatch } from "../runtime/kernel.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import type { Tensor } from "../runtime/tensor.ts";
import type { ModelBuilder } from "./builder.ts";
import type { ResnetPlan } from "./plan.ts";

/** What every ResNet block shares: silu(temb), computed once ([B, T]). */
export interface TimeContext {
  tembAct: Tensor;
  dim: number;
}

export interface GroupNormSpec {
  groups: number;
  eps: number;
}

/** GroupNorm (+ fused SiLU) forward with its saved statistics, and its backward. */
export async function groupNorm(
  m: ModelBuilder,
  prefix: string,
  x: Tensor,
  channels: number,
  spatial: number,
  norm: GroupNormSpec & { silu: boolean },
  label: string,
  /** The 3x3 conv that alone reads y: GroupNorm+SiLU may write its packed input instead. */
  into?: { shape: Conv2dShape; slot: ConvInputSlot },
): Promise<Tensor> {
  const B = m.batch;
  const y = m.act([B, channels, spatial], label);
  const mean = m.act([B * norm.groups], `${label}.mean`);
  const rstd = m.act([B * norm.groups], `${label}.rstd`);
  const gamma = m.param(`${prefix}.weight`);
  const beta = m.param(`${prefix}.bias`);
  const shape = { batch: B, channels, spatial, groups: norm.groups };
  const stats = { x, gamma, beta, mean, rstd, eps: norm.eps };
  const fused = norm.silu && into &&
    await normIntoConv(m, { ...stats, groups: norm.groups, y }, into);
  await m.emit(
    fused ? Promise.resolve(fused) : groupNormForward(m.gpu, {
      ...stats,
      y,
      silu: norm.silu,
      ...shape,
    }),
  );
  m.onBackward(async () => {
    await m.emitBackward(groupNormBackward(m.gpu, {
      x,
      gamma,
      beta,
      mean,
      rstd,
      dy: m.grad(y),
      dx: m.grad(x),
      dGamma: m.paramGrad(`${prefix}.weight`),
      dBeta: m.paramGrad(`${prefix}.bias`),
      silu: norm.silu,
      accumulateDx: m.accumulate(x),
      ...shape,
    }));
  });
  return y;
}

/**
 * silu(groupnorm(x)) written into the packed input of the conv that reads y (and nothing else),
 * which `into.slot` hands to conv2dForward: null where the profile or the shapes do not allow it
 * (gpu/ops/group_norm_into_conv.ts), and then y is computed and the conv packs it.
 */
async function normIntoConv(
  m: ModelBuilder,
  a: Omit<GroupNormSiluIntoConvArgs, "conv">,
  into: { shape: Conv2dShape; slot: ConvInputSlot },
): Promise<Dispatch[] | null> {
  const fused = await groupNormSiluIntoConv(m.gpu, { ...a, conv: into.shape });
  if (fused) into.slot.written = fused.written;
  return fused?.dispatches ?? null;
}

/** A conv layer with diffusers' `<prefix>.weight` / `<prefix>.bias`; dx goes to m.grad(x). */
export async function conv(
  m: ModelBuilder,
  prefix: string,
  x: Tensor,
  shape: Conv2dShape,
  label: string,
  /** The weight gradient reads the forward's packed x; a producer may have written it (`written`). */
  inputSlot: ConvInputSlot = {},
): Promise<Tensor> {
  const outH = Math.floor(
    (shape.height + 2 * (shape.kernel === 3 ? 1 : 0) - shape.kernel) /
      shape.stride,
  ) + 1;
  const outW = Math.floor(
    (shape.width + 2 * (shape.kernel === 3 ? 1 : 0) - shape.kernel) /
      shape.stride,
  ) + 1;
  const y = m.act([shape.batch, shape.outChannels, outH, outW], label);
  const weight = m.param(`${prefix}.weight`);
  const bias = m.param(`${prefix}.bias`);
  await m.emit(conv2dForward(m.gpu, { x, weight, bias, y, shape, inputSlot }));
  m.onBackward(async () => {
    await m.emitBackward(conv2dBackward(m.gpu, {
      x,
      weight,
      inputSlot,
      dy: m.grad(y),
      dx: m.grad(x),
      dWeight: m.paramGrad(`${prefix}.weight`),
      dBias: m.paramGrad(`${prefix}.bias`),
      shape,
      accumulateDx: m.accumulate(x),
    }));
  });
  return y;
}

export async function resnetBlock(
  m: ModelBuilder,
  r: ResnetPlan,
  x: Tensor,
  height: number,
  width: number,
  time: TimeContext,
  norm: GroupNormSpec,
  dropout: number,
): Promise<Tensor> {
  const B = m.batch;
  const { prefix, inChannels: cin, outChannels: cout } = r;
  const hw = height * width;
  const gpu = m.gpu;
  const conv3 = (inChannels: number) => ({
    batch: B,
    inChannels,
    outChannels: cout,
    height,
    width,
    kernel: 3 as const,
    stride: 1 as const,
  });

  // Each conv's weight gradient reads its forward's packed input (ConvInputSlot).
  const [slot1, slot2, slotSc]: ConvInputSlot[] = [{}, {}, {}];
  const a1 = await groupNorm(
    m,
    `${prefix}.norm1`,
    x,
    cin,
    hw,
    { ...norm, silu: true },
    `${prefix}.a1`,
    { shape: conv3(cin), slot: slot1 },
  );
  // The time embedding's projection is added in conv1's own stores (conv2dForward's itemBias).
  const tproj = m.act([B, cout], `${prefix}.tproj`);
  const tw = m.param(`${prefix}.time_emb_proj.weight`);
  const tshape = { rows: B, inFeatures: time.dim, outFeatures: cout };
  await m.emit(linearForward(gpu, {
    x: time.tembAct,
    weight: tw,
    bias: m.param(`${prefix}.time_emb_proj.bias`),
    y: tproj,
    ...tshape,
  }));
  const h1 = m.act([B, cout, height, width], `${prefix}.h1`);
  const w1 = m.param(`${prefix}.conv1.weight`);
  await m.emit(
    conv2dForward(gpu, {
      x: a1,
      weight: w1,
      bias: m.param(`${prefix}.conv1.bias`),
      itemBias: tproj,
      y: h1,
      shape: conv3(cin),
      inputSlot: slot1,
    }),
  );
  // From conv1 to conv2 the backward is one step whose gradients live in scratch buffers shared by
  // every ResNet (nothing outside the block reads them), so norm2 and the convs are built inline
  // rather than with groupNorm() / conv(), which keep a gradient buffer per activation.
  const a2 = m.act([B, cout, height, width], `${prefix}.a2`);
  const mean2 = m.act([B * norm.groups], `${prefix}.norm2.mean`);
  const rstd2 = m.act([B * norm.groups], `${prefix}.norm2.rstd`);
  const g2 = m.param(`${prefix}.norm2.weight`);
  const b2 = m.param(`${prefix}.norm2.bias`);
  const n2shape = { batch: B, channels: cout, spatial: hw, groups: norm.groups };
  const useDropout = m.options.training && dropout > 0;
  const stats2 = { x: h1, gamma: g2, beta: b2, mean: mean2, rstd: rstd2, eps: norm.eps };
  const stream = useDropout ? m.nextStream() : 0;
  const seed = m.options.seed;
  if (useDropout && !seed) throw new Error(`${prefix}: dropout needs a seed tensor`);
  const drop = useDropout ? { p: dropout, seed: seed!, stream } : undefined;
  const a2d = useDropout ? m.act([B, cout, height, width], `${prefix}.a2d`) : a2;
  // conv2 alone reads a2d (= a2 without dropout): norm2 may write its packed input, dropout
  // included.
  const fused2 = await normIntoConv(m, { ...stats2, groups: norm.groups, y: a2d, dropout: drop }, {
    shape: conv3(cout),
    slot: slot2,
  });
  if (fused2) {
    await m.emit(Promise.resolve(fused2));
  } else {
    await m.emit(groupNormForward(gpu, { ...stats2, y: a2, silu: true, ...n2shape }));
    if (drop) await m.emit(dropoutForward(gpu, { x: a2, y: a2d, ...drop }));
  }
  // out = shortcut(x) + conv2(a2d): the shortcut (a 1x1 conv, or a copy of x) is written into out
  // first and conv2 adds into it.
  const out = m.act([B, cout, height, width], prefix);
  const w2 = m.param(`${prefix}.conv2.weight`);
  const hasShortcut = cin !== cout;
  const scShape = { ...conv3(cin), kernel: 1 as const };
  if (hasShortcut) {
    await m.emit(conv2dForward(gpu, {
      x,
      weight: m.param(`${prefix}.conv_shortcut.weight`),
      bias: m.param(`${prefix}.conv_shortcut.bias`),
      y: out,
      shape: scShape,
      inputSlot: slotSc,
    }));
  } else {
    await m.emit(Promise.resolve(copyTensor({ x, y: out })));
  }
  await m.emit(
    conv2dForward(gpu, {
      x: a2d,
      weight: w2,
      bias: m.param(`${prefix}.conv2.bias`),
      y: out,
      shape: conv3(cout),
      accumulate: true,
      inputSlot: slot2,
    }),
  );

  m.onBackward(async () => {
    const dOut = m.grad(out);
    const dA2d = m.scratch("resnet.dA2d", [B, cout, height, width]);
    await m.emitBackward(conv2dBackward(gpu, {
      x: a2d,
      weight: w2,
      dy: dOut,
      dx: dA2d,
      dWeight: m.paramGrad(`${prefix}.conv2.weight`),
      dBias: m.paramGrad(`${prefix}.conv2.bias`),
      shape: conv3(cout),
      inputSlot: slot2,
    }));
    if (hasShortcut) {
      await m.emitBackward(conv2dBackward(gpu, {
        x,
        weight: m.param(`${prefix}.conv_shortcut.weight`),
        dy: dOut,
        dx: m.grad(x),
        dWeight: m.paramGrad(`${prefix}.conv_shortcut.weight`),
        dBias: m.paramGrad(`${prefix}.conv_shortcut.bias`),
        shape: scShape,
        accumulateDx: m.accumulate(x),
        inputSlot: slotSc,
      }));
    } else {
      await m.emitBackward(addInto(gpu, { x: dOut, y: m.grad(x), accumulate: m.accumulate(x) }));
    }
    let dA2 = dA2d;
    if (useDropout) {
      dA2 = m.scratch("resnet.dA2", [B, cout, height, width]);
      await m.emitBackward(
        dropoutBackward(gpu, { dy: dA2d, dx: dA2, p: dropout, seed: seed!, stream }),
      );
    }
    const dH1 = m.scratch("resnet.dH1", [B, cout, height, width]);
    await m.emitBackward(groupNormBackward(gpu, {
      x: h1,
      gamma: g2,
      beta: b2,
      mean: mean2,
      rstd: rstd2,
      dy: dA2,
      dx: dH1,
      dGamma: m.paramGrad(`${prefix}.norm2.weight`),
      dBeta: m.paramGrad(`${prefix}.norm2.bias`),
      silu: true,
      ...n2shape,
    }));
    const dTproj = m.scratch("resnet.dTproj", [B, cout]);
    await m.emitBackward(
      sumSpatial(gpu, { x: dH1, y: dTproj, batch: B, channels: cout, spatial: hw }),
    );
    await m.emitBackward(linearBackward(gpu, {
      x: time.tembAct,
      weight: tw,
      dy: dTproj,
      dx: m.grad(time.tembAct),
      dWeight: m.paramGrad(`${prefix}.time_emb_proj.weight`),
      dBias: m.paramGrad(`${prefix}.time_emb_proj.bias`),
      accumulateDx: m.accumulate(time.tembAct),
      ...tshape,
    }));
    await m.emitBackward(conv2dBackward(gpu, {
      x: a1,
      weight: w1,
      dy: dH1,
      dx: m.grad(a1),
      dWeight: m.paramGrad(`${prefix}.conv1.weight`),
      dBias: m.paramGrad(`${prefix}.conv1.bias`),
      shape: conv3(cin),
      accumulateDx: m.accumulate(a1),
      inputSlot: slot1,
    }));
  });
  return out;
}

/** Downsample2D: 3x3 conv, stride 2, padding 1. */
export function downsample(
  m: ModelBuilder,
  prefix: string,
  x: Tensor,
  channels: number,
  height: number,
  width: number,
): Promise<Tensor> {
  return conv(m, `${prefix}.conv`, x, {
    batch: m.batch,
    inChannels: channels,
    outChannels: channels,
    height,
    width,
    kernel: 3,
    stride: 2,
  }, prefix);
}

/** Upsample2D: nearest x2, then 3x3 conv. */
export async function upsample(
  m: ModelBuilder,
  prefix: string,
  x: Tensor,
  channels: number,
  height: number,
  width: number,
): Promise<Tensor> {
  const B = m.batch;
  const u = m.act([B, channels, 2 * height, 2 * width], `${prefix}.nearest`);
  const planes = B * channels;
  const shape: Conv2dShape = {
    batch: B,
    inChannels: channels,
    outChannels: channels,
    height: 2 * height,
    width: 2 * width,
    kernel: 3,
    stride: 1,
  };
  // The conv alone reads u: the upsampling may write its packed input instead of u.
  const slot: ConvInputSlot = {};
  const fused = await conv2dUpsampledInput(m.gpu, { x, y: u, shape });
  if (fused) slot.written = fused.written;
  await m.emit(
    fused
      ? Promise.resolve(fused.dispatches)
      : upsampleNearest2xForward(m.gpu, { x, y: u, planes, height, width }),
  );
  m.onBackward(async () => {
    await m.emitBackward(upsampleNearest2xBackward(m.gpu, {
      dy: m.grad(u),
      dx: m.grad(x),
      planes,
      height,
      width,
      accumulate: m.accumulate(x),
    }));
  });
  return conv(m, `${prefix}.conv`, u, shape, prefix, slot);
}
