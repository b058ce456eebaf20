// Schedulers against diffusers 0.30's own numbers (../shared/fixtures/diffusers-ref/schedulers.json):
// the tables bit for bit, every step case through the float32 host reference and the GPU kernels.
import { runNow } from "../../gpu/runtime/kernel.ts";
import {
  addNoise,
  addNoiseHost,
  DDIMScheduler,
  ddimStep,
  ddimStepHost,
  DDPMScheduler,
  ddpmStep,
  ddpmStepHost,
  linspaceF32,
} from "../../gpu/sample/scheduler.ts";
import { type Tensor, tensorFrom } from "../../gpu/runtime/tensor.ts";
import {
  assertClose,
  getGpu,
  type Gpu,
  gpuTensor,
  makeRng,
  poisoned,
  randn,
  read,
  uniform,
} from "../util.ts";

const FIXTURE = new URL("../../../shared/fixtures/diffusers-ref/schedulers.json", import.meta.url);
// deno-lint-ignore no-explicit-any
const ref: any = JSON.parse(Deno.readTextFileSync(FIXTURE));

interface Fx {
  shape: number[];
  data: number[];
}
function assertEquals(actual: unknown, expected: unknown, what = "value") {
  const [a, b] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== b) throw new Error(`${what}: got ${a.slice(0, 200)}, want ${b.slice(0, 200)}`);
}

/** Fixture values are the shortest decimals that round back to the float32: round them again. */
const f32s = (t: Fx | number[]) => Float32Array.from(Array.isArray(t) ? t : t.data);

// The GPU does the same float32 operations in the same order, but WGSL allows division and sqrt a
// couple of ulp and may fuse a*b+c: agreement to float32 rounding is a few 1e-7 of the magnitude.
const GPU_TOL = 1e-6;

/** Bit-for-bit equality of two float32 sequences, naming the first difference. */
function assertBitExact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assertEquals(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (Math.fround(actual[i]) !== Math.fround(expected[i])) {
      throw new Error(`${what}[${i}]: ${actual[i]} != ${expected[i]}`);
    }
  }
}

Deno.test("tables and timesteps match diffusers bit for bit", () => {
  for (
    const [which, sched] of [["ddim", new DDIMScheduler()], ["ddpm", new DDPMScheduler()]] as const
  ) {
    const r = ref[which];
    assertBitExact(sched.betas, f32s(r.betas), `${which} betas`);
    assertBitExact(sched.alphasCumprod, f32s(r.alphas_cumprod), `${which} alphas_cumprod`);
    assertEquals(sched.timesteps, r.timesteps["1000"], `${which} timesteps without set_timesteps`);
    for (const n of [10, 50, 1000]) {
      sched.setTimesteps(n);
      assertEquals(sched.timesteps, r.timesteps[String(n)], `${which} timesteps n=${n}`);
    }
  }
  assertEquals(new DDIMScheduler().finalAlphaCumprod, ref.ddim.final_alpha_cumprod);
  // A linspace that is not a multiple of the vector width still ends exactly on its endpoints.
  const odd = linspaceF32(0.5, 2.5, 37);
  assertEquals([odd[0], odd[36]], [0.5, 2.5]);
});

async function gpuStep(
  gpu: Gpu,
  kind: "ddim" | "ddpm",
  // deno-lint-ignore no-explicit-any
  c: any,
  scalars: { alphaProdT: number; alphaProdTPrev: number },
  clipSample: boolean,
  inPlace: boolean,
) {
  const n = c.sample.data.length;
  const modelOutput = gpuTensor(gpu, c.model_output.data, [n]);
  const sample = gpuTensor(gpu, c.sample.data, [n]);
  const out = inPlace ? sample : poisoned(gpu, [n]);
  const predOriginalSample = poisoned(gpu, [n]);
  const noise = c.variance_noise ? gpuTensor(gpu, c.variance_noise.data, [n]) : undefined;
  const args = { modelOutput, sample, out, noise, predOriginalSample, clipSample, n, ...scalars };
  const d = kind === "ddim"
    ? await ddimStep(gpu, { ...args, eta: c.eta })
    : await ddpmStep(gpu, args);
  await runNow(gpu, [d]);
  return { prev: await read(gpu, out), x0: await read(gpu, predOriginalSample) };
}

Deno.test("ddim step cases: host float32 reference and GPU kernel", async () => {
  const gpu = await getGpu();
  const sched = new DDIMScheduler();
  assertEquals(ref.ddim.step_cases.length, 8);
  for (const c of ref.ddim.step_cases) {
    sched.setTimesteps(c.num_inference_steps);
    const s = sched.stepScalars(c.timestep);
    assertEquals(s.prevTimestep, c.prev_timestep, c.name);
    assertEquals(
      [s.alphaProdT, s.alphaProdTPrev],
      [c.alpha_prod_t, c.alpha_prod_t_prev].map(Math.fround),
    );
    assertEquals(s.variance, Math.fround(c.variance), `${c.name} variance`);
    const clipSample = !c.name.includes("noclip");
    const host = ddimStepHost({
      modelOutput: f32s(c.model_output),
      sample: f32s(c.sample),
      noise: c.variance_noise ? f32s(c.variance_noise) : undefined,
      eta: c.eta,
      clipSample,
      ...s,
    });
    assertBitExact(host.predOriginalSample, f32s(c.pred_original_sample), `${c.name} host x0`);
    assertBitExact(host.prevSample, f32s(c.prev_sample), `${c.name} host prev`);
    for (const inPlace of [false, true]) {
      const g = await gpuStep(gpu, "ddim", c, s, clipSample, inPlace);
      const what = `${c.name} gpu${inPlace ? " in place" : ""}`;
      assertClose(g.x0, c.pred_original_sample.data, GPU_TOL, `${what} x0`);
      assertClose(g.prev, c.prev_sample.data, GPU_TOL, `${what} prev`);
    }
  }
});

Deno.test("ddpm step cases (1000- and 10-step schedules): host reference and GPU kernel", async () => {
  const gpu = await getGpu();
  assertEquals(ref.ddpm.step_cases.length, 6);
  for (const c of ref.ddpm.step_cases) {
    const sched = new DDPMScheduler();
    if (c.num_inference_steps) sched.setTimesteps(c.num_inference_steps);
    const s = sched.stepScalars(c.timestep);
    assertEquals(s.prevTimestep, c.prev_timestep, c.name);
    // The fixture's scalar `variance` is not the float32 value step() uses (it is the exact value
    // rounded once; step()'s float32 chain differs by an ulp): prev_sample below is the bit-exact
    // check of the step's own variance. 1 - a_t/a_prev cancels (a_t/a_prev ~ 0.99), so one ulp of
    // the ratio is ~5e-6 of the variance.
    assertClose([s.variance], [c.variance], 1e-5, `${c.name} variance`);
    assertEquals(s.addsNoise, c.variance_noise_added, c.name);
    const host = ddpmStepHost({
      modelOutput: f32s(c.model_output),
      sample: f32s(c.sample),
      noise: s.addsNoise ? f32s(c.variance_noise) : undefined,
      clipSample: true,
      ...s,
    });
    assertBitExact(host.predOriginalSample, f32s(c.pred_original_sample), `${c.name} host x0`);
    assertBitExact(host.prevSample, f32s(c.prev_sample), `${c.name} host prev`);
    for (const inPlace of [false, true]) {
      const g = await gpuStep(gpu, "ddpm", c, s, true, inPlace);
      assertClose(g.x0, c.pred_original_sample.data, GPU_TOL, `${c.name} gpu x0`);
      assertClose(g.prev, c.prev_sample.data, GPU_TOL, `${c.name} gpu prev`);
    }
  }
});

Deno.test("add_noise: fixture cases and a random odd-sized batch", async () => {
  const gpu = await getGpu();
  const alphas = new DDPMScheduler().alphasCumprod;
  const alphasCumprod = tensorFrom(gpu, alphas, [alphas.length]);
  const run = async (
    x0: ArrayLike<number>,
    noise: ArrayLike<number>,
    ts: number[],
    perItem: number,
  ) => {
    const n = ts.length * perItem;
    const out = poisoned(gpu, [n]);
    const d = await addNoise(gpu, {
      x0: gpuTensor(gpu, x0, [n]),
      noise: gpuTensor(gpu, noise, [n]),
      timesteps: gpuTensor(gpu, ts, [ts.length]),
      alphasCumprod,
      out,
      batch: ts.length,
      perItem,
    });
    await runNow(gpu, [d]);
    return read(gpu, out);
  };
  for (const which of ["ddim", "ddpm"]) {
    const c = ref[which].add_noise;
    const perItem = c.original_samples.data.length / c.timesteps.length;
    const host = addNoiseHost({
      x0: f32s(c.original_samples),
      noise: f32s(c.noise),
      timesteps: c.timesteps,
      alphasCumprod: alphas,
      perItem,
    });
    assertBitExact(host, f32s(c.noisy_samples), `${which} add_noise host`);
    const g = await run(c.original_samples.data, c.noise.data, c.timesteps, perItem);
    assertClose(g, c.noisy_samples.data, GPU_TOL, `${which} add_noise gpu`);
  }
  // Random: 5 items of 37 elements (not a multiple of the workgroup), timesteps anywhere in [0, 1000).
  const rng = makeRng();
  const ts = uniform(rng, 5, 0, 1000).map(Math.floor);
  const x0 = randn(rng, 5 * 37);
  const noise = randn(rng, 5 * 37);
  const want = addNoiseHost({
    x0,
    noise,
    timesteps: ts,
    alphasCumprod: alphas,
    perItem: 37,
    precision: "f64",
  });
  assertClose(await run(x0, noise, [...ts], 37), want, GPU_TOL, "add_noise random", rng.seed);
});

Deno.test("full 10-step eta=0 DDIM loop: host reference and one recorded GPU sequence", async () => {
  const gpu = await getGpu();
  const loop = ref.ddim.loop_eta0_10steps;
  const sched = new DDIMScheduler();
  sched.setTimesteps(10);
  assertEquals(sched.timesteps, loop.timesteps);
  const n = loop.initial_sample.data.length;
  const modelOutputs = f32s(loop.model_outputs);
  const after = f32s(loop.samples_after_each_step);
  const x0s = f32s(loop.pred_original_samples);

  let sample: ArrayLike<number> = f32s(loop.initial_sample);
  sched.timesteps.forEach((t, k) => {
    const step = ddimStepHost({
      modelOutput: modelOutputs.subarray(k * n, (k + 1) * n),
      sample,
      eta: 0,
      clipSample: true,
      ...sched.stepScalars(t),
    });
    assertBitExact(step.predOriginalSample, x0s.subarray(k * n, (k + 1) * n), `host x0 step ${k}`);
    assertBitExact(step.prevSample, after.subarray(k * n, (k + 1) * n), `host sample step ${k}`);
    sample = step.prevSample;
  });

  // GPU: every step writes its own buffer so each intermediate can be checked; one submit.
  const samples: Tensor[] = [gpuTensor(gpu, loop.initial_sample.data, [n])];
  const predicted: Tensor[] = [];
  const dispatches = [];
  for (const [k, t] of sched.timesteps.entries()) {
    samples.push(poisoned(gpu, [n]));
    predicted.push(poisoned(gpu, [n]));
    dispatches.push(
      await ddimStep(gpu, {
        modelOutput: gpuTensor(gpu, modelOutputs.subarray(k * n, (k + 1) * n), [n]),
        sample: samples[k],
        out: samples[k + 1],
        predOriginalSample: predicted[k],
        eta: 0,
        clipSample: true,
        n,
        ...sched.stepScalars(t),
      }),
    );
  }
  await runNow(gpu, dispatches);
  for (let k = 0; k < 10; k++) {
    assertClose(
      await read(gpu, predicted[k]),
      x0s.subarray(k * n, (k + 1) * n),
      GPU_TOL,
      `x0 ${k}`,
    );
    assertClose(
      await read(gpu, samples[k + 1]),
      after.subarray(k * n, (k + 1) * n),
      GPU_TOL,
      `step ${k}`,
    );
  }
});

Deno.test("ddpm/ddim GPU steps on random odd-sized input match the float64 reference", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  const n = 301;
  const eps = randn(rng, n);
  const x = randn(rng, n, 2);
  const noise = randn(rng, n);
  const scalars = new DDIMScheduler().stepScalars(700);
  for (const clipSample of [false, true]) {
    const want = ddimStepHost({
      modelOutput: eps,
      sample: x,
      noise,
      eta: 0.5,
      clipSample,
      precision: "f64",
      ...scalars,
    });
    const out = poisoned(gpu, [n]);
    const d = await ddimStep(gpu, {
      modelOutput: gpuTensor(gpu, eps, [n]),
      sample: gpuTensor(gpu, x, [n]),
      noise: gpuTensor(gpu, noise, [n]),
      out,
      eta: 0.5,
      clipSample,
      n,
      ...scalars,
    });
    await runNow(gpu, [d]);
    assertClose(
      await read(gpu, out),
      want.prevSample,
      GPU_TOL,
      `ddim eta 0.5 clip ${clipSample}`,
      rng.seed,
    );
  }
  const d2 = new DDPMScheduler().stepScalars(321);
  const want = ddpmStepHost({
    modelOutput: eps,
    sample: x,
    noise,
    clipSample: false,
    precision: "f64",
    ...d2,
  });
  const out = poisoned(gpu, [n]);
  await runNow(gpu, [
    await ddpmStep(gpu, {
      modelOutput: gpuTensor(gpu, eps, [n]),
      sample: gpuTensor(gpu, x, [n]),
      noise: gpuTensor(gpu, noise, [n]),
      out,
      clipSample: false,
      n,
      ...d2,
    }),
  ]);
  assertClose(await read(gpu, out), want.prevSample, GPU_TOL, "ddpm random", rng.seed);
});
