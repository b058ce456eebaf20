// DDPM and DDIM noise schedules as diffusers 0.30 computes them (PyTorch CPU, float32): the tables,
// the per-step scalars in diffusers' operation order, and host-side step references that reproduce
// torch's float32 results bit for bit (or, with precision "f64", the exact-arithmetic values).
// The GPU kernels that use these scalars are in scheduler.ts.
const f32 = Math.fround;

/** diffusers' scheduler config keys; only the linear / epsilon / "leading" variants are supported. */
export interface SchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: "linear";
  clip_sample: boolean;
  clip_sample_range: number;
  prediction_type: "epsilon";
  timestep_spacing: "leading";
  steps_offset: number;
  /** DDIM: the "previous" alpha product after the last step (1.0, or alphas_cumprod[0]). */
  set_alpha_to_one: boolean;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: "linear",
  clip_sample: true,
  clip_sample_range: 1.0,
  prediction_type: "epsilon",
  timestep_spacing: "leading",
  steps_offset: 0,
  set_alpha_to_one: true,
};

/**
 * torch.linspace(start, end, steps, dtype=float32) on x86 CPU (PyTorch 1.13, AVX2): values before
 * the midpoint count up from `start`, the rest down from `end`; 8-wide vectors take a fused
 * multiply-add base and add k*step unfused. Matches torch bit for bit (checked in the tests).
 */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const s = f32(start);
  const e = f32(end);
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // a*b of two floats is exact in a double, so one fround of a*b+c is a float FMA.
  const at = (i: number) => i < halfway ? f32(s + step * i) : f32(e - step * (steps - i - 1));
  const V = 8;
  let i = 0;
  // torch's vectorized loop runs two vectors at a time while both fit, then the scalar tail.
  for (; i + 2 * V <= steps; i += V) {
    const base = at(i);
    for (let k = 0; k < V; k++) out[i + k] = f32(base + f32(k * step));
  }
  for (; i < steps; i++) out[i] = at(i);
  return out;
}

/** torch.cumprod on CPU: float32 inputs, accumulated in double, each output rounded to float32. */
export function cumprodF32(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  let acc = 1;
  for (let i = 0; i < x.length; i++) out[i] = acc *= x[i];
  return out;
}

/** The tables and timestep bookkeeping that DDPM and DDIM share. */
abstract class NoiseSchedule {
  readonly config: SchedulerConfig;
  readonly betas: Float32Array;
  readonly alphas: Float32Array;
  readonly alphasCumprod: Float32Array;
  /** null until setTimesteps: then the full training schedule is used. */
  numInferenceSteps: number | null = null;
  timesteps: number[];

  constructor(config: Partial<SchedulerConfig> = {}) {
    this.config = { ...DEFAULT_SCHEDULER_CONFIG, ...config };
    const c = this.config;
    if (c.beta_schedule !== "linear") {
      throw new Error(`beta_schedule ${c.beta_schedule} unsupported`);
    }
    if (c.prediction_type !== "epsilon") {
      throw new Error(`prediction_type ${c.prediction_type} unsupported`);
    }
    if (c.timestep_spacing !== "leading") {
      throw new Error(`timestep_spacing ${c.timestep_spacing} unsupported`);
    }
    this.betas = linspaceF32(c.beta_start, c.beta_end, c.num_train_timesteps);
    this.alphas = this.betas.map((b) => f32(1 - b));
    this.alphasCumprod = cumprodF32(this.alphas);
    this.timesteps = Array.from({ length: c.num_train_timesteps }, (_, i) => i).reverse();
  }

  /** "leading" spacing: t_k = (n-1-k) * (T // n) + steps_offset. */
  setTimesteps(n: number): void {
    const T = this.config.num_train_timesteps;
    if (!Number.isInteger(n) || n < 1 || n > T) {
      throw new Error(`number of inference steps ${n} must be an integer in [1, ${T}]`);
    }
    this.numInferenceSteps = n;
    const ratio = Math.floor(T / n);
    this.timesteps = Array.from(
      { length: n },
      (_, k) => (n - 1 - k) * ratio + this.config.steps_offset,
    );
  }

  previousTimestep(t: number): number {
    const T = this.config.num_train_timesteps;
    return t - Math.floor(T / (this.numInferenceSteps ?? T));
  }

  alphaProdAt(t: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.alphasCumprod.length) {
      throw new Error(`timestep ${t} outside [0, ${this.alphasCumprod.length})`);
    }
    return this.alphasCumprod[t];
  }
}

export interface StepScalars {
  timestep: number;
  prevTimestep: number;
  alphaProdT: number;
  alphaProdTPrev: number;
  variance: number;
}

export class DDIMScheduler extends NoiseSchedule {
  get finalAlphaCumprod(): number {
    return this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  stepScalars(t: number): StepScalars {
    const prevTimestep = this.previousTimestep(t);
    const alphaProdT = this.alphaProdAt(t);
    const alphaProdTPrev = prevTimestep >= 0
      ? this.alphaProdAt(prevTimestep)
      : this.finalAlphaCumprod;
    const variance = ddimCoefficients(alphaProdT, alphaProdTPrev, 0).variance;
    return { timestep: t, prevTimestep, alphaProdT, alphaProdTPrev, variance };
  }
}

export class DDPMScheduler extends NoiseSchedule {
  /** `addsNoise`: diffusers adds variance noise for every step but the one at t = 0. */
  stepScalars(t: number): StepScalars & { addsNoise: boolean } {
    const prevTimestep = this.previousTimestep(t);
    const alphaProdT = this.alphaProdAt(t);
    const alphaProdTPrev = prevTimestep >= 0 ? this.alphaProdAt(prevTimestep) : 1;
    const variance = ddpmCoefficients(alphaProdT, alphaProdTPrev).variance;
    return { timestep: t, prevTimestep, alphaProdT, alphaProdTPrev, variance, addsNoise: t > 0 };
  }
}

type Round = (x: number) => number;
const roundFor = (precision: "f32" | "f64"): Round => precision === "f32" ? f32 : (x) => x;

/** DDIM's per-step scalars in diffusers' operation order; `r` rounds after every operation. */
export function ddimCoefficients(alphaProdT: number, alphaProdTPrev: number, eta: number, r = f32) {
  const betaProdT = r(1 - alphaProdT);
  const variance = r(r(r(1 - alphaProdTPrev) / betaProdT) * r(1 - r(alphaProdT / alphaProdTPrev)));
  const stdDevT = r(eta * r(Math.sqrt(variance)));
  return {
    variance,
    stdDevT,
    sqrtBetaProdT: r(Math.sqrt(betaProdT)),
    sqrtAlphaProdT: r(Math.sqrt(alphaProdT)),
    sqrtAlphaProdTPrev: r(Math.sqrt(alphaProdTPrev)),
    directionCoeff: r(Math.sqrt(r(r(1 - alphaProdTPrev) - r(stdDevT * stdDevT)))),
  };
}

/** DDPM's ("fixed_small" variance) per-step scalars in diffusers' operation order. */
export function ddpmCoefficients(alphaProdT: number, alphaProdTPrev: number, r = f32) {
  const betaProdT = r(1 - alphaProdT);
  const betaProdTPrev = r(1 - alphaProdTPrev);
  const currentAlphaT = r(alphaProdT / alphaProdTPrev);
  const currentBetaT = r(1 - currentAlphaT);
  const variance = Math.max(r(r(betaProdTPrev / betaProdT) * currentBetaT), r(1e-20));
  return {
    variance,
    stdDev: r(Math.sqrt(variance)),
    sqrtBetaProdT: r(Math.sqrt(betaProdT)),
    sqrtAlphaProdT: r(Math.sqrt(alphaProdT)),
    predOriginalCoeff: r(r(r(Math.sqrt(alphaProdTPrev)) * currentBetaT) / betaProdT),
    currentSampleCoeff: r(r(r(Math.sqrt(currentAlphaT)) * betaProdTPrev) / betaProdT),
  };
}

export interface HostStepArgs {
  modelOutput: ArrayLike<number>;
  sample: ArrayLike<number>;
  alphaProdT: number;
  alphaProdTPrev: number;
  clipSample?: boolean;
  clipSampleRange?: number;
  /** Variance noise; DDIM uses it when eta > 0, DDPM whenever it is given (omit it at t = 0). */
  noise?: ArrayLike<number>;
  /** "f32" reproduces torch's float32 rounding; "f64" is the exact-arithmetic reference. */
  precision?: "f32" | "f64";
}

export interface HostStepResult {
  prevSample: Float64Array;
  predOriginalSample: Float64Array;
}

function predictOriginal(
  a: HostStepArgs,
  sqrtBeta: number,
  sqrtAlpha: number,
  r: Round,
  i: number,
) {
  const x0 = r(r(a.sample[i] - r(sqrtBeta * a.modelOutput[i])) / sqrtAlpha);
  const range = a.clipSampleRange ?? 1;
  return a.clipSample ?? true ? Math.min(Math.max(x0, -range), range) : x0;
}

/** DDIMScheduler.step for epsilon prediction, elementwise on the host. */
export function ddimStepHost(a: HostStepArgs & { eta: number }): HostStepResult {
  const r = roundFor(a.precision ?? "f32");
  const c = ddimCoefficients(a.alphaProdT, a.alphaProdTPrev, a.eta, r);
  if (a.eta > 0 && !a.noise) throw new Error("ddimStepHost: eta > 0 needs variance noise");
  const n = a.sample.length;
  const prevSample = new Float64Array(n);
  const predOriginalSample = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x0 = predictOriginal(a, c.sqrtBetaProdT, c.sqrtAlphaProdT, r, i);
    let prev = r(r(c.sqrtAlphaProdTPrev * x0) + r(c.directionCoeff * a.modelOutput[i]));
    if (a.eta > 0) prev = r(prev + r(c.stdDevT * a.noise![i]));
    prevSample[i] = prev;
    predOriginalSample[i] = x0;
  }
  return { prevSample, predOriginalSample };
}

/** DDPMScheduler.step ("fixed_small" variance, epsilon prediction), elementwise on the host. */
export function ddpmStepHost(a: HostStepArgs): HostStepResult {
  const r = roundFor(a.precision ?? "f32");
  const c = ddpmCoefficients(a.alphaProdT, a.alphaProdTPrev, r);
  const n = a.sample.length;
  const prevSample = new Float64Array(n);
  const predOriginalSample = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x0 = predictOriginal(a, c.sqrtBetaProdT, c.sqrtAlphaProdT, r, i);
    let prev = r(r(c.predOriginalCoeff * x0) + r(c.currentSampleCoeff * a.sample[i]));
    if (a.noise) prev = r(prev + r(c.stdDev * a.noise[i]));
    prevSample[i] = prev;
    predOriginalSample[i] = x0;
  }
  return { prevSample, predOriginalSample };
}

/** add_noise on the host: sqrt(a_t) x0 + sqrt(1 - a_t) noise, one timestep per batch item. */
export function addNoiseHost(a: {
  x0: ArrayLike<number>;
  noise: ArrayLike<number>;
  timesteps: ArrayLike<number>;
  alphasCumprod: ArrayLike<number>;
  perItem: number;
  precision?: "f32" | "f64";
}): Float64Array {
  const r = roundFor(a.precision ?? "f32");
  const out = new Float64Array(a.x0.length);
  for (let i = 0; i < out.length; i++) {
    const alpha = a.alphasCumprod[a.timesteps[Math.floor(i / a.perItem)]];
    out[i] = r(r(r(Math.sqrt(alpha)) * a.x0[i]) + r(r(Math.sqrt(r(1 - alpha))) * a.noise[i]));
  }
  return out;
}
