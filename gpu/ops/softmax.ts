// Softmax over the last axis of a [rows, cols] tensor, forward and backward.
// One invocation per row: the rows the model has are short (attention keys, <= 64 on the
// reference config), so a serial loop per row beats any cross-invocation reduction.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import type { Tensor } from "../runtime/tensor.ts";

// One row per invocation: the workgroup width is the profile's (narrow on llvmpipe, whose x is the
// SIMD axis; full warps on a GPU).
const rowsPerGroup = (gpu: Gpu): number => gpu.profile.softmax.laneWidth;

function softmaxForwardKernel(wg: number): KernelSpec {
  return {
    name: "softmaxForward",
    params: { rows: "u32", cols: "u32" },
    bindings: { x: "read", y: "write" },
    consts: { WG: wg },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  // Subtracting the row max keeps exp() in range; the largest term becomes exactly 1.
  var m = x[base];
  for (var j = 1u; j < p.cols; j++) { m = max(m, x[base + j]); }
  var total = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    let e = exp(x[base + j] - m);
    y[base + j] = e;
    total += e;
  }
  let inv = 1.0 / total;
  for (var j = 0u; j < p.cols; j++) { y[base + j] = y[base + j] * inv; }
}`,
  };
}

/** y[r, :] = softmax(x[r, :]); x, y: [rows, cols]. */
export function softmaxForward(
  gpu: Gpu,
  args: { x: Tensor; y: Tensor; rows: number; cols: number },
): Promise<Dispatch> {
  const { x, y, rows, cols } = args;
  checkSize("softmaxForward", { x, y }, rows * cols);
  const wg = rowsPerGroup(gpu);
  return createDispatch(gpu, softmaxForwardKernel(wg), { x, y }, grid1d(rows, wg), { rows, cols });
}

function softmaxBackwardKernel(wg: number, accumulate: boolean): KernelSpec {
  return {
    name: "softmaxBackward",
    params: { rows: "u32", cols: "u32" },
    bindings: { y: "read", dy: "read", dx: "write" },
    consts: { WG: wg, ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var d = 0.0;
  for (var j = 0u; j < p.cols; j++) { d += dy[base + j] * y[base + j]; }
  for (var j = 0u; j < p.cols; j++) {
    let g = y[base + j] * (dy[base + j] - d);
    if (ACCUMULATE) { dx[base + j] = dx[base + j] + g; } else { dx[base + j] = g; }
  }
}`,
  };
}

/**
 * dx (=|+=) y * (dy - rowsum(dy * y)), from the saved softmax output y; all [rows, cols].
 * `accumulate` is an addition to the contract's signature (input gradients may be summed).
 */
export function softmaxBackward(
  gpu: Gpu,
  args: { y: Tensor; dy: Tensor; dx: Tensor; rows: number; cols: number; accumulate?: boolean },
): Promise<Dispatch> {
  const { y, dy, dx, rows, cols, accumulate = false } = args;
  checkSize("softmaxBackward", { y, dy, dx }, rows * cols);
  const wg = rowsPerGroup(gpu);
  return createDispatch(
    gpu,
    softmaxBackwardKernel(wg, accumulate),
    { y, dy, dx },
    grid1d(rows, wg),
    {
      rows,
      cols,
    },
  );
}

function checkSize(op: string, tensors: Record<string, Tensor>, size: number): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t.size < size) throw new Error(`${op}: ${name} has ${t.size} elements, needs ${size}`);
  }
}
