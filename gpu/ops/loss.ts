// Mean L1 and mean squared error with their gradients. The mean is a deterministic multi-stage
// reduction (no float atomics): stage 1 writes dPred and one partial sum per invocation, later stages
// sum 64 partials per invocation until one invocation can finish the mean. Invocation i sums
// elements i, i + parts, i + 2 parts, ...: neighbouring invocations read neighbouring elements
// (SIMD lanes on llvmpipe, coalesced loads on a GPU).
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { createTensor, type Tensor } from "../runtime/tensor.ts";

const WG = 64;
/** Elements (or partials) one invocation sums: n = 98304 takes 3 dispatches, 1536 -> 24 -> 1. */
const CHUNK = 64;

type LossKind = "l1" | "mse";

function lossTermsKernel(kind: LossKind, scaled: boolean): KernelSpec {
  // torch: l1 grad = sign(d) * (1/n) with sign(0) = 0; mse grad = d * (2/n).
  const term = kind === "l1" ? "abs(d)" : "d * d";
  const factor = scaled ? "(p.gradScale * lossScale[0])" : "p.gradScale";
  const grad = kind === "l1" ? `sign(d) * ${factor}` : `d * ${factor}`;
  const bindings: Record<string, string> = { pred: "read", tgt: "read" };
  if (scaled) bindings.lossScale = "read";
  return {
    name: `${kind}LossTerms`,
    params: { n: "u32", parts: "u32", gradScale: "f32" },
    bindings: { ...bindings, dPred: "write", partials: "write" },
    consts: { WG, CHUNK },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let part = flat_id(gid, nwg, WG);
  if (part >= p.parts) { return; }
  var sum = 0.0;
  for (var k = 0u; k < CHUNK; k++) {
    let i = part + k * p.parts;
    if (i >= p.n) { break; }
    let d = pred[i] - tgt[i];
    sum += ${term};
    dPred[i] = ${grad};
  }
  partials[part] = sum;
}`,
  };
}

const sumPartialsKernel: KernelSpec = {
  name: "lossSumPartials",
  params: { n: "u32", parts: "u32" },
  bindings: { x: "read", partials: "write" },
  consts: { WG, CHUNK },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let part = flat_id(gid, nwg, WG);
  if (part >= p.parts) { return; }
  var sum = 0.0;
  for (var k = 0u; k < CHUNK; k++) {
    let i = part + k * p.parts;
    if (i >= p.n) { break; }
    sum += x[i];
  }
  partials[part] = sum;
}`,
};

function finishMeanKernel(accumulate: boolean): KernelSpec {
  return {
    name: "lossFinishMean",
    params: { n: "u32", total: "f32" },
    bindings: { x: "read", loss: "write" },
    consts: { ACCUMULATE: accumulate },
    code: /* wgsl */ `
@compute @workgroup_size(1) fn main() {
  var sum = 0.0;
  for (var i = 0u; i < p.n; i++) { sum += x[i]; }
  let mean = sum / p.total;
  if (ACCUMULATE) { loss[0] = loss[0] + mean; } else { loss[0] = mean; }
}`,
  };
}

export interface LossArgs {
  /** f32 [n], any shape. */
  pred: Tensor;
  target: Tensor;
  /** f32 [n]: d mean / d pred (overwritten). */
  dPred: Tensor;
  /** f32 [1]: the mean, or += the mean with `accumulateLoss` (the trainer logs the running sum). */
  loss: Tensor;
  n: number;
  accumulateLoss?: boolean;
  /**
   * Dynamic loss scaling (gpu/loss_scale.ts): dPred is multiplied by lossScale[0]; the loss
   * itself is not.
   */
  lossScale?: Tensor;
}

async function meanLoss(gpu: Gpu, kind: LossKind, args: LossArgs): Promise<Dispatch[]> {
  const { pred, target, dPred, loss, n } = args;
  if (!(n >= 1 && pred.size >= n && target.size >= n && dPred.size >= n)) {
    throw new Error(`${kind}Loss: tensors hold fewer than n = ${n} elements`);
  }
  const gradScale = Math.fround((kind === "l1" ? 1 : 2) / n);
  let count = Math.ceil(n / CHUNK);
  let partials = createTensor(gpu, [count], "f32", `${kind}Loss.partials`);
  const dispatches = [
    await createDispatch(
      gpu,
      lossTermsKernel(kind, args.lossScale !== undefined),
      // `target` is reserved in WGSL.
      { pred, tgt: target, dPred, partials, ...(args.lossScale && { lossScale: args.lossScale }) },
      grid1d(count, WG),
      { n, parts: count, gradScale },
    ),
  ];
  while (count > CHUNK) {
    const parts = Math.ceil(count / CHUNK);
    const next = createTensor(gpu, [parts], "f32", `${kind}Loss.partials`);
    dispatches.push(
      await createDispatch(
        gpu,
        sumPartialsKernel,
        { x: partials, partials: next },
        grid1d(parts, WG),
        {
          n: count,
          parts,
        },
      ),
    );
    [partials, count] = [next, parts];
  }
  dispatches.push(
    await createDispatch(
      gpu,
      finishMeanKernel(args.accumulateLoss ?? false),
      {
        x: partials,
        loss,
      },
      [1],
      { n: count, total: n },
    ),
  );
  return dispatches;
}

/** loss = mean |pred - target|; dPred = sign(pred - target) / n (sign(0) = 0, as torch). */
export function l1Loss(gpu: Gpu, args: LossArgs): Promise<Dispatch[]> {
  return meanLoss(gpu, "l1", args);
}

/** loss = mean (pred - target)^2; dPred = 2 (pred - target) / n. */
export function mseLoss(gpu: Gpu, args: LossArgs): Promise<Dispatch[]> {
  return meanLoss(gpu, "mse", args);
}
