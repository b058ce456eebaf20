// LayerNorm over the last dimension of x [rows, features], affine, forward and backward.
//
// It is GroupNorm with one group, rows as the batch, features as channels and a spatial size of 1,
// so it runs the GroupNorm kernels: one workgroup per row, two-pass variance, and dGamma/dBeta
// reduced over rows per feature.
import type { Gpu } from "../runtime/device.ts";
import type { Dispatch } from "../runtime/kernel.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { groupNormBackward, groupNormForward } from "./group_norm.ts";

/** y = gamma * (x - mean) * rstd + beta per row; mean/rstd [rows] saved for the backward pass. */
export function layerNormForward(
  gpu: Gpu,
  args: {
    x: Tensor;
    gamma: Tensor;
    beta: Tensor;
    y: Tensor;
    mean: Tensor;
    rstd: Tensor;
    rows: number;
    features: number;
    eps: number;
  },
): Promise<Dispatch[]> {
  const { rows, features, ...tensors } = args;
  return groupNormForward(gpu, {
    ...tensors,
    batch: rows,
    channels: features,
    spatial: 1,
    groups: 1,
  });
}

/** [dx (=|+=), then dGamma and dBeta (overwritten)]. */
export function layerNormBackward(
  gpu: Gpu,
  args: {
    x: Tensor;
    gamma: Tensor;
    mean: Tensor;
    rstd: Tensor;
    dy: Tensor;
    dx: Tensor;
    dGamma: Tensor;
    dBeta: Tensor;
    rows: number;
    features: number;
    accumulateDx?: boolean;
  },
): Promise<Dispatch[]> {
  const { rows, features, ...tensors } = args;
  // beta only matters to the fused-SiLU variant, which LayerNorm never uses.
  return groupNormBackward(gpu, {
    ...tensors,
    beta: args.gamma,
    batch: rows,
    channels: features,
    spatial: 1,
    groups: 1,
  });
}
