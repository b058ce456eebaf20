// The whole UNet against diffusers 0.30 (shared/fixtures/diffusers-ref): parameter names and shapes,
// then one forward + L1 loss + backward on the GPU checked against every stored activation, the
// output, the loss, all 250 parameter gradients and both input gradients.
import { runNow } from "../../gpu/runtime/kernel.ts";
import { mseLoss } from "../../gpu/ops/loss.ts";
import { createSeed } from "../../gpu/runtime/random.ts";
import { readSafetensors, type SafetensorsMap } from "../../gpu/formats/safetensors.ts";
import { createTensor, fill, readback, upload } from "../../gpu/runtime/tensor.ts";
import { buildUNet } from "../../gpu/model/unet.ts";
import { checkUNetCase, errorTable } from "../../gpu/model/reference_check.ts";
import { parseUNetConfig, UnsupportedConfigError } from "../../gpu/model/config.ts";
import { compactConfig, referenceConfig } from "../../gpu/model/presets.ts";
import {
  initParamsHost,
  loadParams,
  packParams,
  parameterCount,
  paramLayout,
  unetParamSpecs,
} from "../../gpu/model/params.ts";
import { getGpu, makeRng, relativeError } from "../util.ts";

const FIXTURES = new URL("../../../shared/fixtures/diffusers-ref/", import.meta.url);
const TOLERANCE = 1e-4; // the reference's own float32 noise is ~4e-6 (fixture README)

function readFixture(path: string): SafetensorsMap {
  return readSafetensors(Deno.readFileSync(new URL(path, FIXTURES)));
}

function fixtureConfig() {
  return parseUNetConfig(
    JSON.parse(Deno.readTextFileSync(new URL("unet_small/config.json", FIXTURES))),
  );
}

Deno.test("unet config: diffusers config.json loads; names, shapes and counts match", () => {
  const config = fixtureConfig();
  const weights = readFixture("unet_small/diffusion_pytorch_model.safetensors");
  const specs = unetParamSpecs(config);
  const names = [...weights.keys()];
  if (specs.length !== 250 || names.length !== 250) {
    throw new Error(`${specs.length} specs, ${names.length} fixture tensors; want 250`);
  }
  specs.forEach((s, i) => {
    const w = weights.get(names[i])!;
    if (s.name !== names[i] || s.shape.join() !== w.shape.join()) {
      throw new Error(`param ${i}: ${s.name} [${s.shape}] vs fixture ${names[i]} [${w.shape}]`);
    }
  });
  const count = parameterCount(specs);
  if (count !== 315587) throw new Error(`fixture UNet has ${count} parameters, want 315587`);
  const reference = parameterCount(unetParamSpecs(referenceConfig));
  if (reference !== 26054787) throw new Error(`reference has ${reference}, want 26054787`);
  const compact = parameterCount(unetParamSpecs(compactConfig));
  if (compact < 1e6 || compact > 3e6) throw new Error(`compact config has ${compact} parameters`);
});

Deno.test("unet config: unsupported values are refused with the key named", () => {
  const cases: [string, unknown][] = [
    ["act_fn", "gelu"],
    ["use_linear_projection", true],
    ["class_embed_type", "timestep"],
    ["mid_block_type", "UNetMidBlock2DSimpleCrossAttn"],
    ["down_block_types", ["AttnDownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"]],
    ["resnet_time_scale_shift", "scale_shift"],
    ["num_attention_heads", 8],
    ["upcast_attention", true],
    ["norm_num_groups", 7],
    ["no_such_key", 1],
  ];
  const base = JSON.parse(Deno.readTextFileSync(new URL("unet_small/config.json", FIXTURES)));
  for (const [key, value] of cases) {
    try {
      parseUNetConfig({ ...base, [key]: value });
    } catch (e) {
      if (e instanceof UnsupportedConfigError && e.message.includes(key)) continue;
      throw e;
    }
    throw new Error(`${key} = ${JSON.stringify(value)} was accepted`);
  }
});

Deno.test("unet forward + L1 loss + backward match diffusers (every activation and gradient)", async () => {
  const gpu = await getGpu();
  const config = fixtureConfig();
  const weights = readFixture("unet_small/diffusion_pytorch_model.safetensors");
  const c = readFixture("unet_small_case.safetensors");
  // Outputs, activations and gradients are poisoned with NaN first: an element never written, or
  // a gradient that adds where it should overwrite, stays NaN.
  {
    const { rows, unmatched } = await checkUNetCase(gpu, config, weights, c, { poison: true });
    console.log(errorTable(rows));
    const expectedCount =
      [...c.keys()].filter((k) => k !== "target.noise" && !k.startsWith("input.")).length;
    if (unmatched.length) throw new Error(`no model tensor for: ${unmatched.join(", ")}`);
    if (rows.length !== expectedCount) {
      throw new Error(`checked ${rows.length} tensors, the case holds ${expectedCount}`);
    }
    const failures = rows.filter((r) => !(r.error <= TOLERANCE));
    if (failures.length) {
      throw new Error(
        `${failures.length} tensors over ${TOLERANCE}:\n  ` +
          failures.slice(0, 40).map((r) => `${r.name}: ${r.error.toExponential(3)}`).join("\n  "),
      );
    }
  }

  // A forward-only build sharing the parameters (the sampler's) gives the same output.
  const get = (name: string) => c.get(name)!.data;
  const trained = await buildUNet(gpu, config, { batch: 2, training: false, withBackward: false });
  loadParams(gpu, trained.params, weights);
  const sampler = await buildUNet(gpu, config, {
    batch: 2,
    training: false,
    withBackward: false,
    params: trained.params,
  });
  if (sampler.backward.length) throw new Error("forward-only build has backward dispatches");
  upload(gpu, sampler.sample, get("input.sample"));
  upload(gpu, sampler.timesteps, get("input.timesteps"));
  upload(gpu, sampler.encoderHiddenStates, get("input.encoder_hidden_states"));
  fill(gpu, sampler.output, NaN);
  await runNow(gpu, sampler.forward);
  const error = relativeError(await readback(gpu, sampler.output), get("output.sample"));
  if (!(error <= TOLERANCE)) throw new Error(`forward-only output off by ${error}`);
});

Deno.test("unet training mode: dropout is seeded, and the backward matches finite differences", async () => {
  // The fixture's weights with dropout 0.3: the dropout sites of every ResNet are live, so a mask
  // that the backward regenerates differently from the forward shows up in the gradients.
  const gpu = await getGpu();
  const rng = makeRng();
  const config = { ...fixtureConfig(), dropout: 0.3 };
  const weights = readFixture("unet_small/diffusion_pytorch_model.safetensors");
  const c = readFixture("unet_small_case.safetensors");
  const seed = createSeed(gpu, 1234);
  const unet = await buildUNet(gpu, config, { batch: 2, training: true, seed });
  const theta = packParams(unet.params.layout, weights);
  upload(gpu, unet.params.data, theta);
  upload(gpu, unet.sample, c.get("input.sample")!.data);
  upload(gpu, unet.timesteps, c.get("input.timesteps")!.data);
  upload(gpu, unet.encoderHiddenStates, c.get("input.encoder_hidden_states")!.data);
  const target = createTensor(gpu, unet.output.shape, "f32", "target");
  upload(gpu, target, c.get("target.noise")!.data);
  const loss = createTensor(gpu, [1], "f32", "loss");
  // MSE: smooth, so central differences are exact up to O(eps^2).
  const lossDispatches = await mseLoss(gpu, {
    pred: unet.output,
    target,
    dPred: unet.dOutput,
    loss,
    n: unet.output.size,
  });
  const lossAt = async (params: Float32Array) => {
    upload(gpu, unet.params.data, params);
    await runNow(gpu, [...unet.forward, ...lossDispatches]);
    return (await readback(gpu, loss))[0];
  };

  await runNow(gpu, [...unet.forward, ...lossDispatches, ...unet.backward]);
  const out1 = await readback(gpu, unet.output);
  const grads = await readback(gpu, unet.params.grads);
  await runNow(gpu, unet.forward);
  const out2 = await readback(gpu, unet.output);
  if (relativeError(out2, out1) !== 0) throw new Error("same seed and step, different output");
  const evalError = relativeError(out1, c.get("output.sample")!.data);
  if (!(evalError > 1e-2)) throw new Error(`dropout had no effect (${evalError})`);

  // Directional derivative along a random normal direction d. Its expected size is |grad|, which
  // is the error's denominator: the numeric side's float32 noise is absolute, and a draw of d that
  // happens to be nearly orthogonal to the gradient must not turn that noise into a failure.
  const direction = new Float32Array(theta.length);
  for (const e of unet.params.layout.entries) {
    for (let i = e.offset; i < e.offset + e.size; i++) direction[i] = rng.normal();
  }
  let squares = 0;
  for (const g of grads) squares += g * g;
  let analytic = 0;
  for (let i = 0; i < theta.length; i++) analytic += grads[i] * direction[i];
  const eps = 1e-4;
  const shifted = (sign: number) => theta.map((v, i) => v + sign * eps * direction[i]);
  const numeric = ((await lossAt(shifted(1))) - (await lossAt(shifted(-1)))) / (2 * eps);
  const error = Math.abs(numeric - analytic) / Math.max(Math.abs(analytic), Math.sqrt(squares));
  console.log(
    `directional derivative: analytic ${analytic.toExponential(4)}, numeric ` +
      `${numeric.toExponential(4)}, relative ${error.toExponential(2)}`,
  );
  // A whole-model step of 1e-4 per parameter: curvature and float32 loss noise each stay near 5e-4
  // relative (1e-3 steps gave 4% from curvature); a wrong dropout mask in the backward is O(1).
  if (!(error < 5e-3)) throw new Error(`directional derivative off by ${error} (seed ${rng.seed})`);
});

Deno.test("unet params: layout alignment, packing errors and PyTorch's default init", () => {
  const config = fixtureConfig();
  const layout = paramLayout(unetParamSpecs(config));
  for (const e of layout.entries) {
    if (e.offset % 64 !== 0) throw new Error(`${e.name} at ${e.offset} is not 64-aligned`);
  }
  const weights = readFixture("unet_small/diffusion_pytorch_model.safetensors");
  const missing = new Map(weights);
  missing.delete("conv_out.bias");
  const wrong = new Map(weights);
  wrong.set("conv_in.bias", { dtype: "F32", shape: [15], data: new Float32Array(15) });
  for (const [what, tensors] of [["missing", missing], ["wrong shape", wrong]] as const) {
    try {
      packParams(layout, tensors);
    } catch {
      continue;
    }
    throw new Error(`packParams accepted a ${what} tensor`);
  }

  const rng = makeRng();
  const init = initParamsHost(layout, rng.next);
  const fanIn = (e: { shape: number[] }) => e.shape.slice(1).reduce((a, b) => a * b, 1);
  const byName = layout.byName;
  for (const e of layout.entries) {
    const values = init.subarray(e.offset, e.offset + e.size);
    const isNorm = /norm[0-9_a-z]*\.(weight|bias)$/.test(e.name) && e.shape.length === 1;
    if (isNorm) {
      const want = e.name.endsWith("weight") ? 1 : 0;
      if (values.some((v) => v !== want)) throw new Error(`${e.name} not all ${want}`);
      continue;
    }
    const weight = byName.get(e.name.replace(/\.bias$/, ".weight"))!;
    const bound = 1 / Math.sqrt(fanIn(weight));
    const max = values.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    // Large tensors get close to the bound; none exceeds it.
    if (max > bound || (e.size >= 256 && max < 0.9 * bound)) {
      throw new Error(`${e.name}: max |w| ${max} vs bound ${bound} (seed ${rng.seed})`);
    }
  }
  const end = layout.entries.at(-1)!;
  if (init.subarray(end.offset + end.size).some((v) => v !== 0)) throw new Error("padding not 0");
});
