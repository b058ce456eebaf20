// Softmax cross-entropy over the last axis, mean over rows, with its gradient in the same pass:
// torch's F.cross_entropy(logits, target) with probability targets (one-hot rows give the usual
// class-index loss; a row scaled by w weighs that row w times, as a class weight does).
//   logits, target, dLogits: [rows, classes] f32; loss: [1].
// One invocation per row (rows are a batch of sprites, classes a handful), then one invocation
// sums the rows in order: deterministic, no float atomics.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { createTensor, type Tensor } from "../runtime/tensor.ts";

const WG = 64;

const rowsKernel: KernelSpec = {
  name: "crossEntropyRows",
  params: { rows: "u32", cols: "u32", invRows: "f32" },
  bindings: { logits: "read", tgt: "read", dLogits: "write", rowLoss: "write" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  // The row's largest logit apart: its exp(x - m) is 1 exactly, and rest (the others' sum) is
  // kept on its own. A confident row's loss, log(1 + rest), and its top gradient, mass / total - t,
  // are both tiny: computed from total they would be lost in its rounding.
  var m = logits[base];
  var top = 0u;
  for (var j = 1u; j < p.cols; j++) {
    let v = logits[base + j];
    if (v > m) { m = v; top = j; }
  }
  var rest = 0.0;
  var mass = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    mass += tgt[base + j];
    if (j != top) { rest += exp(logits[base + j] - m); }
  }
  let total = 1.0 + rest;
  // log1p(rest): its series where 1 + rest would round most of rest away.
  let logTotal = select(log(total), rest * (1.0 - rest * (0.5 - rest / 3.0)), rest < 1e-3);
  // -sum_j t_j log softmax_j = sum_j t_j ((m - x_j) + log(total)); d/dx_j = softmax_j sum(t) - t_j.
  var loss = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    let x = logits[base + j];
    let t = tgt[base + j];
    loss += t * ((m - x) + logTotal);
    // At the top, softmax = 1 / total: mass / total - t = ((mass - t) - t rest) / total.
    let g = select(exp(x - m) / total * mass - t, ((mass - t) - t * rest) / total, j == top);
    dLogits[base + j] = g * p.invRows;
  }
  rowLoss[row] = loss;
}`,
};

function meanKernel(accumulate: boolean): KernelSpec {
  return {
    name: "crossEntropyMean",
    params: { rows: "u32", invRows: "f32" },
    bindings: { rowLoss: "read", loss: "write" },
    consts: { ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(1) fn main() {
  var sum = 0.0;
  for (var i = 0u; i < p.rows; i++) { sum += rowLoss[i]; }
  let mean = sum * p.invRows;
  if (ACCUMULATE) { loss[0] = loss[0] + mean; } else { loss[0] = mean; }
}`,
  };
}

export interface CrossEntropyArgs {
  logits: Tensor;
  /** Target probabilities per row (one-hot for a class index), optionally scaled per row. */
  target: Tensor;
  /** Overwritten with d loss / d logits. */
  dLogits: Tensor;
  /** f32 [1]: the mean over rows, or += it with `accumulateLoss`. */
  loss: Tensor;
  rows: number;
  classes: number;
  accumulateLoss?: boolean;
}

/** loss = mean_r sum_j t_rj (logsumexp(x_r) - x_rj); dLogits = (softmax(x) sum(t) - t) / rows. */
export async function crossEntropyLoss(gpu: Gpu, a: CrossEntropyArgs): Promise<Dispatch[]> {
  const n = a.rows * a.classes;
  for (const [name, t] of [["logits", a.logits], ["target", a.target], ["dLogits", a.dLogits]]) {
    if ((t as Tensor).size < n) {
      throw new Error(`crossEntropyLoss: ${name} holds fewer than ${a.rows} x ${a.classes}`);
    }
  }
  const rowLoss = createTensor(gpu, [a.rows], "f32", "crossEntropy.rowLoss");
  const invRows = Math.fround(1 / a.rows);
  return [
    await createDispatch(
      gpu,
      rowsKernel,
      // `target` is reserved in WGSL.
      { logits: a.logits, tgt: a.target, dLogits: a.dLogits, rowLoss },
      grid1d(a.rows, WG),
      { rows: a.rows, cols: a.classes, invRows },
    ),
    await createDispatch(
      gpu,
      meanKernel(a.accumulateLoss ?? false),
      { rowLoss, loss: a.loss },
      [1],
      { rows: a.rows, invRows },
    ),
  ];
}
