// AdamW with torch.optim.AdamW's update (decoupled weight decay, bias correction). The
// hyperparameters live in a small GPU buffer the host rewrites once per step, so the recorded
// update dispatches never change; a copy step moves them (and a loss scaler's scale and overflow
// flag) into the kernel's uniforms, which every invocation reads as scalars: read from a storage
// buffer, each of them is a per-lane loop on llvmpipe (nine of them per vec4 of parameters).
import type { Gpu } from "../runtime/device.ts";
import {
  copyStep,
  createDispatch,
  type Dispatch,
  grid1d,
  type KernelSpec,
} from "../runtime/kernel.ts";
import type { Tensor } from "../runtime/tensor.ts";

const WG = 64;

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * Number of f32 values `adamwHyper` writes: the contract's 7, then 1 - beta1 and 1 - beta2
 * computed in float64 as torch does: 1 - f32(0.999) is 1.3e-5 away from 0.001, which would shift
 * v by that much relative to torch. A 7-value hyper tensor still works, with that deviation.
 */
export const ADAMW_HYPER_SIZE = 9;

/**
 * [lr, beta1, beta2, eps, weightDecay, 1 - beta1^step, 1 - beta2^step, 1 - beta1, 1 - beta2] for
 * `step` = 1, 2, ... (torch's defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2).
 */
export function adamwHyper(opts: AdamWOptions, step: number): Float32Array {
  const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 1e-2 } = opts;
  if (!(step >= 1)) throw new Error(`adamwHyper: step ${step} must start at 1`);
  return Float32Array.of(
    lr,
    beta1,
    beta2,
    eps,
    weightDecay,
    1 - beta1 ** step,
    1 - beta2 ** step,
    1 - beta1,
    1 - beta2,
  );
}

/**
 * The kernel that reads its hyperparameters from storage buffers (`hyper`, `lossScale`): the
 * reference `adamwStep`'s kernel is tested against (tests/ops/adamw_test.ts).
 *
 * Scalar or vec4 (W = 4 when n is a multiple of 4): on llvmpipe every storage access is a per-lane
 * loop, so four values per access and the hyperparameters read once per four elements cut the
 * cost of the optimizer (26 M parameters in the reference config) by about as much.
 */
const adamwStorageKernel = (hostComplements: boolean, scaled: boolean, w: 1 | 4): KernelSpec => {
  const a = w === 4 ? "array<vec4<f32>>" : "array<f32>";
  return {
    name: "adamwStep",
    params: { n: "u32" },
    bindings: {
      hyper: "read",
      ...(scaled && { lossScale: "read" }),
      grad: `read ${a}`,
      param: `write ${a}`,
      m: `write ${a}`,
      v: `write ${a}`,
    },
    consts: { WG, HOST_COMPLEMENTS: hostComplements, SCALED: scaled },
    code: /* wgsl */ `
alias V = ${w === 4 ? "vec4f" : "f32"};
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  var g = grad[i];
  ${
      scaled
        ? `// A gradient overflowed: skip the whole step (GradScaler's optimizer.step skip).
  if (lossScale[2] != 0.0) { return; }
  g = g * (1.0 / lossScale[0]);`
        : ""
    }
  let lr = hyper[0];
  let beta1 = hyper[1];
  let beta2 = hyper[2];
  let eps = hyper[3];
  let decayed = param[i] * (1.0 - lr * hyper[4]);
  let one_minus_beta1 = select(1.0 - beta1, hyper[7], HOST_COMPLEMENTS);
  let one_minus_beta2 = select(1.0 - beta2, hyper[8], HOST_COMPLEMENTS);
  let mi = beta1 * m[i] + one_minus_beta1 * g;
  let vi = beta2 * v[i] + one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  // torch's order: denom = sqrt(v) / sqrt(bc2) + eps, step size lr / bc1.
  let denom = sqrt(vi) / sqrt(hyper[6]) + eps;
  param[i] = decayed - (lr / hyper[5]) * mi / denom;
}`,
  };
};

/** The update's arguments. */
export interface AdamWArgs {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
  /** f32 [ADAMW_HYPER_SIZE] from `adamwHyper` (or the contract's first 7), host-written. */
  hyper: Tensor;
  n: number;
  /** A LossScaler's state: the gradient is divided by its scale, and nothing moves on overflow. */
  lossScale?: Tensor;
}

function checkArgs({ param, grad, m, v, hyper, n }: AdamWArgs): void {
  if ([param, grad, m, v].some((t) => t.size < n)) {
    throw new Error(`adamwStep: a tensor holds fewer than n = ${n} elements`);
  }
  if (hyper.size < 7) throw new Error("adamwStep: hyper must hold at least 7 values");
}

// The uniforms: n, then the hyper tensor's values at HYPER_OFFSET, then the loss scale and the
// overflow flag (copied from a LossScaler's state [scale, good steps, overflow, skipped]).
const uniformParams = {
  n: "u32",
  lr: "f32",
  beta1: "f32",
  beta2: "f32",
  eps: "f32",
  weightDecay: "f32",
  bc1: "f32",
  bc2: "f32",
  oneMinusBeta1: "f32",
  oneMinusBeta2: "f32",
  scale: "f32",
  overflow: "f32",
} as const;
const HYPER_OFFSET = 4;
const SCALE_OFFSET = 40;
const OVERFLOW_OFFSET = 44;

/** adamwStorageKernel with every hyperparameter a uniform (the same arithmetic, in its order). */
const adamwKernel = (hostComplements: boolean, scaled: boolean, w: 1 | 4): KernelSpec => {
  const a = w === 4 ? "array<vec4<f32>>" : "array<f32>";
  return {
    name: "adamwStep",
    params: uniformParams,
    bindings: { grad: `read ${a}`, param: `write ${a}`, m: `write ${a}`, v: `write ${a}` },
    consts: { WG, HOST_COMPLEMENTS: hostComplements, SCALED: scaled },
    code: /* wgsl */ `
alias V = ${w === 4 ? "vec4f" : "f32"};
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  var g = grad[i];
  ${
      scaled
        ? `// A gradient overflowed: skip the whole step (GradScaler's optimizer.step skip).
  if (p.overflow != 0.0) { return; }
  g = g * (1.0 / p.scale);`
        : ""
    }
  let decayed = param[i] * (1.0 - p.lr * p.weightDecay);
  let one_minus_beta1 = select(1.0 - p.beta1, p.oneMinusBeta1, HOST_COMPLEMENTS);
  let one_minus_beta2 = select(1.0 - p.beta2, p.oneMinusBeta2, HOST_COMPLEMENTS);
  let mi = p.beta1 * m[i] + one_minus_beta1 * g;
  let vi = p.beta2 * v[i] + one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  // torch's order: denom = sqrt(v) / sqrt(bc2) + eps, step size lr / bc1.
  let denom = sqrt(vi) / sqrt(p.bc2) + p.eps;
  param[i] = decayed - (p.lr / p.bc1) * mi / denom;
}`,
  };
};

/**
 * One AdamW update of n elements: param *= 1 - lr wd; m = b1 m + (1 - b1) g;
 * v = b2 v + (1 - b2) g^2; param -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps); m, v start at 0.
 * Two or three steps: copies of `hyper` (and of the loss scale and overflow flag) into the
 * kernel's uniforms, then the kernel.
 */
export async function adamwStep(gpu: Gpu, args: AdamWArgs): Promise<Dispatch[]> {
  checkArgs(args);
  const { param, grad, m, v, hyper, n, lossScale } = args;
  const w = n % 4 === 0 ? 4 : 1;
  const hostComplements = hyper.size >= ADAMW_HYPER_SIZE;
  const kernel = adamwKernel(hostComplements, lossScale !== undefined, w);
  // The uniforms' other values are placeholders until the copies overwrite them.
  const d = await createDispatch(gpu, kernel, { grad, param, m, v }, grid1d(n / w, WG), {
    ...Object.fromEntries(Object.keys(uniformParams).map((k) => [k, 1])),
    n: n / w,
  });
  const uniforms = d.paramBuffer!;
  const hyperBytes = 4 * (hostComplements ? ADAMW_HYPER_SIZE : 7);
  const copies = [
    copyStep(
      "adamwUniforms",
      hyperBytes,
      (encoder) =>
        encoder.copyBufferToBuffer(hyper.buffer, hyper.offset, uniforms, HYPER_OFFSET, hyperBytes),
    ),
  ];
  if (lossScale) {
    copies.push(copyStep("adamwUniforms", 8, (encoder) => {
      encoder.copyBufferToBuffer(lossScale.buffer, lossScale.offset, uniforms, SCALE_OFFSET, 4);
      encoder.copyBufferToBuffer(
        lossScale.buffer,
        lossScale.offset + 8,
        uniforms,
        OVERFLOW_OFFSET,
        4,
      );
    }));
  }
  return [...copies, d];
}

/** adamwStep on adamwStorageKernel (hyper and lossScale read as storage): the tests' reference. */
export function adamwStepReference(gpu: Gpu, args: AdamWArgs): Promise<Dispatch> {
  checkArgs(args);
  const { param, grad, m, v, hyper, n, lossScale } = args;
  const w = n % 4 === 0 ? 4 : 1;
  const kernel = adamwStorageKernel(hyper.size >= ADAMW_HYPER_SIZE, lossScale !== undefined, w);
  const buffers = { hyper, grad, param, m, v, ...(lossScale && { lossScale }) };
  return createDispatch(gpu, kernel, buffers, grid1d(n / w, WG), { n: n / w });
}
