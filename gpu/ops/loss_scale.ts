// Dynamic loss scaling for mixed-precision training, as torch.cuda.amp.GradScaler does it, but
// without a host round trip: the scale lives in a GPU buffer that the loss gradient multiplies by,
// the optimizer divides by and skips on, and one last dispatch updates.
//
//   state (f32 [4]): [scale, good steps since the last change, found non-finite (0|1), skipped steps]
//
// Per step: loss gradient x scale -> backward -> checkNonFinite over every gradient store ->
// AdamW (unscales; returns at once when non-finite was found) -> updateLossScale: on overflow the
// scale is halved and the step counts as skipped, after `growthInterval` clean steps it doubles.
// f16 operands need it: an L1 gradient of 1 / (batch x 768) is below f16's normal range.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { createTensor, readback, type Tensor, upload } from "../runtime/tensor.ts";

/** GradScaler's defaults. */
export const LOSS_SCALE_DEFAULTS = {
  initScale: 2 ** 16,
  growthFactor: 2,
  backoffFactor: 0.5,
  growthInterval: 2000,
};
export type LossScaleOptions = typeof LOSS_SCALE_DEFAULTS;

export interface LossScaleState {
  scale: number;
  goodSteps: number;
  /** Steps skipped because a gradient overflowed, since the state was created. */
  skipped: number;
}

const WG = 64;
/** Elements one invocation checks: neighbouring invocations read neighbouring elements. */
const CHUNK = 64;

/** Scalar or vec4 loads (W = 4 when n is a multiple of 4), as AdamW's. */
function checkNonFiniteKernel(w: 1 | 4): KernelSpec {
  return {
    name: "checkNonFinite",
    params: { n: "u32", parts: "u32" },
    bindings: { x: w === 4 ? "read array<vec4<f32>>" : "read", state: "write" },
    consts: { WG, CHUNK },
    code: /* wgsl */ `
alias U = ${w === 4 ? "vec4u" : "u32"};
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let part = flat_id(gid, nwg, WG);
  if (part >= p.parts) { return; }
  var bad = false;
  for (var k = 0u; k < CHUNK; k++) {
    let i = part + k * p.parts;
    if (i >= p.n) { break; }
    // Exponent all ones: inf or NaN (WGSL has no isNan/isInf).
    bad = bad || any((bitcast<U>(x[i]) & U(0x7f800000u)) == U(0x7f800000u));
  }
  // Every writer writes the same value, so the race is benign.
  if (bad) { state[2] = 1.0; }
}`,
  };
}

const updateLossScaleKernel: KernelSpec = {
  name: "updateLossScale",
  params: { growthFactor: "f32", backoffFactor: "f32", growthInterval: "f32" },
  bindings: { state: "write" },
  code: /* wgsl */ `
@compute @workgroup_size(1) fn main() {
  if (state[2] != 0.0) {
    state[0] = state[0] * p.backoffFactor;
    state[1] = 0.0;
    state[3] = state[3] + 1.0;
  } else {
    state[1] = state[1] + 1.0;
    if (state[1] >= p.growthInterval) {
      state[0] = state[0] * p.growthFactor;
      state[1] = 0.0;
    }
  }
  state[2] = 0.0;
}`,
};

export class LossScaler {
  /** f32 [4]; see the top of this file. Bound by the loss, AdamW and the two kernels here. */
  readonly state: Tensor;

  constructor(readonly gpu: Gpu, readonly options: LossScaleOptions = LOSS_SCALE_DEFAULTS) {
    this.state = createTensor(gpu, [4], "f32", "lossScale.state");
    this.set({ scale: options.initScale, goodSteps: 0, skipped: 0 });
  }

  /** Sets (or restores from a checkpoint) the scale and its counters. */
  set(s: LossScaleState): void {
    upload(this.gpu, this.state, Float32Array.of(s.scale, s.goodSteps, 0, s.skipped));
  }

  async read(): Promise<LossScaleState> {
    const [scale, goodSteps, , skipped] = await readback(this.gpu, this.state);
    return { scale, goodSteps, skipped };
  }

  /** Flags the step as overflowed when any of x[0..n) is inf or NaN. */
  checkNonFinite(x: Tensor, n: number): Promise<Dispatch> {
    if (x.size < n) throw new Error(`checkNonFinite: the tensor holds fewer than ${n} elements`);
    const w = n % 4 === 0 ? 4 : 1;
    const parts = Math.ceil(n / w / CHUNK);
    const buffers = { x, state: this.state };
    return createDispatch(this.gpu, checkNonFiniteKernel(w), buffers, grid1d(parts, WG), {
      n: n / w,
      parts,
    });
  }

  /** The step's last dispatch: backs off or grows the scale and clears the overflow flag. */
  update(): Promise<Dispatch> {
    const o = this.options;
    return createDispatch(this.gpu, updateLossScaleKernel, { state: this.state }, [1], {
      growthFactor: o.growthFactor,
      backoffFactor: o.backoffFactor,
      growthInterval: o.growthInterval,
    });
  }
}
