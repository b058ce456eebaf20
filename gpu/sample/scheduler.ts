// The scheduler's GPU side: the trainer's addNoise and the sampler's ddimStep / ddpmStep. Tables and
// per-step scalars come from scheduler_host.ts as float32 values bit-identical to torch's; the GPU
// only does the elementwise part, with the scalars as uniform parameters fixed at build time.
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { ddimCoefficients, ddpmCoefficients } from "./scheduler_math.ts";
import type { Tensor } from "../runtime/tensor.ts";

export * from "./scheduler_math.ts";

const WG = 64;

function expectSize(kernel: string, what: string, t: Tensor | undefined, n: number): void {
  if (t && t.size < n) throw new Error(`${kernel}: ${what} has ${t.size} elements, needs ${n}`);
}

const addNoiseKernel: KernelSpec = {
  name: "addNoise",
  params: { n: "u32", perItem: "u32" },
  bindings: {
    x0: "read",
    noise: "read",
    timesteps: "read",
    alphasCumprod: "read",
    out: "write",
  },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  // Timesteps arrive as f32 integers (randomTimesteps writes them so for timestepEmbedding too).
  let t = min(u32(timesteps[i / p.perItem]), arrayLength(&alphasCumprod) - 1u);
  let a = alphasCumprod[t];
  out[i] = sqrt(a) * x0[i] + sqrt(1.0 - a) * noise[i];
}`,
};

/** out = sqrt(a_t) x0 + sqrt(1 - a_t) noise; x0, noise, out [batch * perItem]; timesteps f32 [batch]. */
export function addNoise(gpu: Gpu, args: {
  x0: Tensor;
  noise: Tensor;
  timesteps: Tensor;
  alphasCumprod: Tensor;
  out: Tensor;
  batch: number;
  perItem: number;
}): Promise<Dispatch> {
  const { x0, noise, timesteps, alphasCumprod, out, batch, perItem } = args;
  const n = batch * perItem;
  for (const [what, t, size] of [["x0", x0, n], ["noise", noise, n], ["out", out, n]] as const) {
    expectSize("addNoise", what, t, size);
  }
  expectSize("addNoise", "timesteps", timesteps, batch);
  return createDispatch(
    gpu,
    addNoiseKernel,
    { x0, noise, timesteps, alphasCumprod, out },
    grid1d(n, WG),
    { n, perItem },
  );
}

// One kernel for both samplers: x0 = (s - cEps e) / cDiv, optionally clipped; prev = cX0 x0 +
// cOther other + cNoise noise, where `other` is the model output for DDIM and the sample for DDPM.
function samplerStepKernel(o: {
  name: string;
  clip: boolean;
  otherIsSample: boolean;
  inPlace: boolean;
  hasNoise: boolean;
  writeX0: boolean;
}): KernelSpec {
  const bindings: Record<string, string> = { modelOutput: "read" };
  bindings.sample = o.inPlace ? "write" : "read";
  if (!o.inPlace) bindings.out = "write";
  if (o.hasNoise) bindings.noise = "read";
  if (o.writeX0) bindings.predOriginalSample = "write";
  return {
    name: o.name,
    params: {
      n: "u32",
      cEps: "f32",
      cDiv: "f32",
      clipRange: "f32",
      cX0: "f32",
      cOther: "f32",
      cNoise: "f32",
    },
    bindings,
    consts: {
      WG,
      CLIP: o.clip,
      OTHER_IS_SAMPLE: o.otherIsSample,
      HAS_NOISE: o.hasNoise,
      WRITE_X0: o.writeX0,
    },
    code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let e = modelOutput[i];
  let s = sample[i];
  var x0 = (s - p.cEps * e) / p.cDiv;
  if (CLIP) { x0 = clamp(x0, -p.clipRange, p.clipRange); }
  var other = e;
  if (OTHER_IS_SAMPLE) { other = s; }
  var prev = p.cX0 * x0 + p.cOther * other;
  ${o.hasNoise ? "prev = prev + p.cNoise * noise[i];" : ""}
  ${o.inPlace ? "sample[i] = prev;" : "out[i] = prev;"}
  ${o.writeX0 ? "predOriginalSample[i] = x0;" : ""}
}`,
  };
}

/** Arguments of one sampler step; `out` may be `sample` itself (updated in place). */
export interface StepArgs {
  modelOutput: Tensor;
  sample: Tensor;
  out: Tensor;
  noise?: Tensor;
  /** Optional: the step's predicted x0 (clipped), for previews. */
  predOriginalSample?: Tensor;
  alphaProdT: number;
  alphaProdTPrev: number;
  clipSample: boolean;
  clipSampleRange?: number;
  n: number;
}

function samplerStep(
  gpu: Gpu,
  name: string,
  a: StepArgs,
  otherIsSample: boolean,
  hasNoise: boolean,
  c: { cEps: number; cDiv: number; cX0: number; cOther: number; cNoise: number },
): Promise<Dispatch> {
  const inPlace = a.out.buffer === a.sample.buffer && a.out.offset === a.sample.offset;
  for (
    const [what, t] of Object.entries({ modelOutput: a.modelOutput, sample: a.sample, out: a.out })
  ) {
    expectSize(name, what, t, a.n);
  }
  expectSize(name, "predOriginalSample", a.predOriginalSample, a.n);
  if (hasNoise) {
    if (!a.noise) {
      throw new Error(`${name}: this step adds variance noise but no noise tensor was given`);
    }
    expectSize(name, "noise", a.noise, a.n);
  }
  const buffers: Record<string, Tensor> = { modelOutput: a.modelOutput, sample: a.sample };
  if (!inPlace) buffers.out = a.out;
  if (hasNoise) buffers.noise = a.noise!;
  if (a.predOriginalSample) buffers.predOriginalSample = a.predOriginalSample;
  const spec = samplerStepKernel({
    name,
    clip: a.clipSample,
    otherIsSample,
    inPlace,
    hasNoise,
    writeX0: !!a.predOriginalSample,
  });
  return createDispatch(gpu, spec, buffers, grid1d(a.n, WG), {
    n: a.n,
    clipRange: a.clipSampleRange ?? 1,
    ...c,
  });
}

/**
 * One DDIMScheduler.step (epsilon prediction) with this step's scalars baked in: a sampling loop
 * records one such dispatch per timestep. `noise` is required when eta > 0.
 */
export function ddimStep(gpu: Gpu, a: StepArgs & { eta: number }): Promise<Dispatch> {
  const c = ddimCoefficients(a.alphaProdT, a.alphaProdTPrev, a.eta);
  return samplerStep(gpu, "ddimStep", a, false, a.eta > 0, {
    cEps: c.sqrtBetaProdT,
    cDiv: c.sqrtAlphaProdT,
    cX0: c.sqrtAlphaProdTPrev,
    cOther: c.directionCoeff,
    cNoise: c.stdDevT,
  });
}

/**
 * One DDPMScheduler.step ("fixed_small" variance). Pass `noise` for every step with t > 0 and
 * omit it for the last step (diffusers adds no noise at t = 0).
 */
export function ddpmStep(gpu: Gpu, a: StepArgs): Promise<Dispatch> {
  const c = ddpmCoefficients(a.alphaProdT, a.alphaProdTPrev);
  return samplerStep(gpu, "ddpmStep", a, true, !!a.noise, {
    cEps: c.sqrtBetaProdT,
    cDiv: c.sqrtAlphaProdT,
    cX0: c.predOriginalCoeff,
    cOther: c.currentSampleCoeff,
    cNoise: c.stdDev,
  });
}
