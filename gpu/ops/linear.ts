// Linear layers on top of matmul: y = x W^T + b, with W [out, in] as torch stores it.
//   x: [rows, in], weight: [out, in], bias: [out], y: [rows, out]
import type { Gpu } from "../runtime/device.ts";
import type { Dispatch } from "../runtime/kernel.ts";
import { matmul, sumRows } from "./matmul/matmul.ts";
import type { Tensor } from "../runtime/tensor.ts";

export interface LinearShape {
  rows: number;
  inFeatures: number;
  outFeatures: number;
}

/** y = x W^T (+ b). */
export function linearForward(
  gpu: Gpu,
  args: LinearShape & { x: Tensor; weight: Tensor; bias?: Tensor; y: Tensor },
): Promise<Dispatch[]> {
  const { x, weight, bias, y, rows, inFeatures, outFeatures } = args;
  return matmul(gpu, {
    a: x,
    b: weight,
    c: y,
    M: rows,
    N: outFeatures,
    K: inFeatures,
    transB: true,
    bias,
    bIsParameter: true,
  });
}

/**
 * dx (=|+=) dy W, dWeight = dy^T x, dBias = sum_rows dy. dx is optional (the first layer's input
 * needs no gradient); parameter gradients overwrite.
 */
export async function linearBackward(
  gpu: Gpu,
  args: LinearShape & {
    x: Tensor;
    weight: Tensor;
    dy: Tensor;
    dx?: Tensor;
    dWeight: Tensor;
    dBias?: Tensor;
    accumulateDx?: boolean;
  },
): Promise<Dispatch[]> {
  const { x, weight, dy, dx, dWeight, dBias, rows, inFeatures, outFeatures } = args;
  const out: Dispatch[] = [];
  if (dx) {
    out.push(
      ...await matmul(gpu, {
        a: dy,
        b: weight,
        c: dx,
        M: rows,
        N: inFeatures,
        K: outFeatures,
        accumulate: args.accumulateDx ?? false,
        bIsParameter: true,
      }),
    );
  }
  out.push(
    ...await matmul(gpu, {
      a: dy,
      b: x,
      c: dWeight,
      M: outFeatures,
      N: inFeatures,
      K: rows,
      transA: true,
    }),
  );
  if (dBias) out.push(await sumRows(gpu, { x: dy, y: dBias, rows, cols: outFeatures }));
  return out;
}
