// GroupNorm + SiLU written straight into the packed input of the 3x3 conv that reads it (a ResNet's
// norm1 -> conv1 and norm2 -> conv2, the UNet's norm_out -> conv_out), on llvmpipe's profile.
// Unfused, the activation is stored, copied into its mirror, packed into the conv's staging
// buffer by a kernel of its own and copied into the texture: here the normalised values go into
// the staging buffer as they are made, four channels of one position a texel, the layout
// conv2d's direct kernel reads (gpu/ops/conv2d/direct_texture.ts). One dispatch and one copy
// fewer per conv, and the activation is never stored: nothing else reads it (the conv's weight
// gradient reads the same texture; the GroupNorm backward recomputes from x and the statistics).
// In training, norm2 -> dropout -> conv2 is fused the same way: the mask is drawn here, from the
// counter-based RNG as dropoutForward draws it, so neither the activation nor its dropped copy is
// stored, and dropoutBackward regenerates the same mask. The values are groupNormForward's (and
// dropoutForward's), computed the same way (tests/ops/group_norm_into_conv_test.ts).
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { conv2dInputTarget, type Conv2dShape } from "./conv2d/conv2d.ts";
import type { PackedInput } from "./conv2d/direct_texture.ts";
import { GROUP_FORWARD_HEAD } from "./group_norm.ts";
import { mirror } from "./mirror.ts";
import { dropoutMaskWgsl, type DropoutOptions, dropoutScale } from "./dropout.ts";
import { RANDOM_WGSL } from "../runtime/random.ts";
import { each, range, XYZW } from "../runtime/wgsl.ts";

const intoConvKernel = (wg: number, pad: number, dropout: boolean): KernelSpec => ({
  name: dropout ? "groupNormSiluDropoutIntoConv" : "groupNormSiluIntoConv",
  params: {
    batch: "u32",
    channels: "u32",
    spatial: "u32",
    groups: "u32",
    eps: "f32",
    width: "u32",
    C4: "u32",
    rowsPerItem: "u32",
    tPitch: "u32",
    ...(dropout ? { p: "f32", scale: "f32", stream: "u32" } : {}),
  },
  bindings: {
    x: "mirror read",
    gamma: "read",
    beta: "read",
    ...(dropout ? { seed: "read array<u32>" } : {}),
    t: "operand write",
    mean: "write",
    rstd: "write",
  },
  consts: { WG: wg, PAD: pad },
  code: /* wgsl */ `
${dropout ? RANDOM_WGSL : ""}
fn silu(v: vec4f) -> vec4f { return v / (1.0 + exp(-v)); }
${GROUP_FORWARD_HEAD}
  let b = bg / p.groups;
  ${dropout ? "let dropoutSeed = vec2u(seed[0], seed[1]);" : ""}
  let w4 = p.width / 4u;
  // Four channels at a time: their texels of four columns, transposed into four texels of four
  // channels, as conv2d's input pack does.
  for (var cq = 0u; cq < cpg / 4u; cq++) {
    let c = c0 + 4u * cq;
    let gm = vec4f(gamma[c], gamma[c + 1u], gamma[c + 2u], gamma[c + 3u]);
    let bt = vec4f(beta[c], beta[c + 1u], beta[c + 2u], beta[c + 3u]);
    let first = base + 4u * cq * s4;
    for (var k = 0u; k < s4; k++) {
      ${
    // Texel first + j * s4 + k of x holds elements 4 (first + j * s4 + k) ..: its Philox block.
    each(range(4), (j) => {
      const at = `first + ${j === 0 ? "" : `${j}u * s4 + `}k`;
      const v = `silu((load_x(${at}) - mu) * (r * gm.${XYZW[j]}) + bt.${XYZW[j]})`;
      return `let q${j} = ${dropout ? dropoutMaskWgsl(v, at) : v};`;
    })}
      let iy = k / w4;
      let col = (4u * (k - iy * w4) + PAD) * p.C4 + c / 4u;
      let row = b * p.rowsPerItem + iy + PAD;
      store_t(vec2u(col, row), vec4f(q0.x, q1.x, q2.x, q3.x));
      store_t(vec2u(col + p.C4, row), vec4f(q0.y, q1.y, q2.y, q3.y));
      store_t(vec2u(col + 2u * p.C4, row), vec4f(q0.z, q1.z, q2.z, q3.z));
      store_t(vec2u(col + 3u * p.C4, row), vec4f(q0.w, q1.w, q2.w, q3.w));
    }
  }
}`,
});

export interface GroupNormSiluIntoConvArgs {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  /** [B * groups], saved for the backward pass, as groupNormForward's. */
  mean: Tensor;
  rstd: Tensor;
  groups: number;
  eps: number;
  /** silu(groupnorm(x)), the conv's input: never stored. */
  y: Tensor;
  /** The conv that alone reads y. */
  conv: Conv2dShape;
  /**
   * y = dropout(silu(groupnorm(x))) instead, with the mask dropoutForward draws for these options
   * (its backward, dropoutBackward with the same options, needs no mask buffer).
   */
  dropout?: DropoutOptions;
}

/**
 * The dispatches that write silu(groupnorm(x)) into the packed input of the conv that reads y, and
 * that input (put it in the conv's ConvInputSlot as `written`); null where this does not apply
 * (another reducer than llvmpipe's, channels per group or width not multiples of 4, or a conv that
 * does not read a packed texture): the caller then runs groupNormForward into y and the conv
 * packs it.
 */
export async function groupNormSiluIntoConv(
  gpu: Gpu,
  args: GroupNormSiluIntoConvArgs,
): Promise<{ dispatches: Dispatch[]; written: PackedInput } | null> {
  const { groups } = args;
  const { batch, inChannels: channels, height, width } = args.conv;
  const cpg = channels / groups;
  if (gpu.profile.groupNorm.reducer !== "invocation") return null;
  if (!Number.isInteger(cpg) || cpg % 4 || width % 4) return null;
  const target = conv2dInputTarget(gpu, { x: args.y, shape: args.conv });
  if (!target) return null;
  const wg = gpu.profile.groupNorm.workgroupSize;
  const drop = args.dropout;
  const scale = drop ? dropoutScale(drop.p) : 0;
  const xm = mirror(gpu, args.x);
  const dispatches = [
    xm.refresh,
    await createDispatch(
      gpu,
      intoConvKernel(wg, (args.conv.kernel - 1) / 2, !!drop),
      {
        x: xm.view,
        gamma: args.gamma,
        beta: args.beta,
        ...(drop ? { seed: drop.seed } : {}),
        t: target.tx.staging,
        mean: args.mean,
        rstd: args.rstd,
      },
      grid1d(batch * groups, wg),
      {
        batch,
        channels,
        spatial: height * width,
        groups,
        eps: args.eps,
        width,
        C4: target.layout.C4,
        rowsPerItem: target.layout.rowsPerItem,
        tPitch: target.tx.pitch,
        ...(drop ? { p: drop.p, scale, stream: drop.stream } : {}),
      },
    ),
    target.tx.upload,
  ];
  return { dispatches, written: target };
}
