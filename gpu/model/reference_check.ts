// Runs a UNet on a reference case in the fixtures' layout (inputs, expected output, L1 loss,
// gradients, activations) and measures every tensor's error. Shared by the fixture test and
// `deno task check-reference`, so what the test proves is what users can check on their models.
//   input.sample [B,C,H,W], input.timesteps [B], input.encoder_hidden_states [B,S,D]
//   output.sample, target.noise, loss, grad.<param>, grad.input.sample,
//   grad.input.encoder_hidden_states, act.<module path> (batch item 0): each optional.
import type { Gpu } from "../runtime/device.ts";
import { runNow } from "../runtime/kernel.ts";
import { l1Loss } from "../ops/loss.ts";
import type { SafetensorsMap } from "../formats/safetensors.ts";
import { createTensor, fill, readback, type Tensor, upload } from "../runtime/tensor.ts";
import { buildUNet } from "./unet.ts";
import type { UNetConfig } from "./config.ts";
import { loadParams } from "./params.ts";

export interface CheckedTensor {
  group: "activations" | "output" | "loss" | "param grads" | "input grads";
  name: string;
  /** max |ours - reference| / max |reference| (Infinity for NaN or a size mismatch). */
  error: number;
}

export interface ReferenceCheck {
  rows: CheckedTensor[];
  /** Reference tensors the model has nothing to compare with. */
  unmatched: string[];
}

export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!Number.isFinite(d)) return Infinity;
    worst = Math.max(worst, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? worst : worst / scale;
}

const silu = (v: number) => v / (1 + Math.exp(-v));

function required(c: SafetensorsMap, name: string): Float32Array {
  const t = c.get(name);
  if (!t) throw new Error(`the case file has no tensor "${name}"`);
  return t.data;
}

export async function checkUNetCase(
  gpu: Gpu,
  config: UNetConfig,
  weights: SafetensorsMap,
  c: SafetensorsMap,
  { poison = false } = {},
): Promise<ReferenceCheck> {
  const sampleShape = c.get("input.sample")?.shape;
  const contextShape = c.get("input.encoder_hidden_states")?.shape;
  if (!sampleShape || sampleShape.length !== 4 || !contextShape || contextShape.length !== 3) {
    throw new Error(
      "the case file needs input.sample [B,C,H,W] and input.encoder_hidden_states [B,S,D]",
    );
  }
  const [batch, , height, width] = sampleShape;
  const withBackward = c.has("target.noise");
  const unet = await buildUNet(gpu, config, {
    batch,
    height,
    width,
    contextLength: contextShape[1],
    training: false,
    withBackward,
  });
  loadParams(gpu, unet.params, weights);
  const inputs: [Tensor, string][] = [
    [unet.sample, "input.sample"],
    [unet.timesteps, "input.timesteps"],
    [unet.encoderHiddenStates, "input.encoder_hidden_states"],
  ];
  for (const [t, name] of inputs) {
    const data = required(c, name);
    if (data.length !== t.size) {
      throw new Error(`${name} has ${data.length} values, want ${t.size}`);
    }
    upload(gpu, t, data);
  }
  const loss = createTensor(gpu, [1], "f32", "reference.loss");
  const dispatches = [...unet.forward];
  if (withBackward) {
    const target = createTensor(gpu, unet.output.shape, "f32", "reference.target");
    upload(gpu, target, required(c, "target.noise"));
    dispatches.push(
      ...await l1Loss(gpu, {
        pred: unet.output,
        target,
        dPred: unet.dOutput,
        loss,
        n: unet.output.size,
      }),
      ...unet.backward,
    );
  }
  if (poison) {
    const outputs = [unet.output, loss, unet.params.grads, unet.dSample, unet.dEncoderHiddenStates];
    for (const t of [...outputs, ...unet.activations.values()]) fill(gpu, t, NaN);
  }
  await runNow(gpu, dispatches);

  const rows: CheckedTensor[] = [];
  const unmatched: string[] = [];
  const check = (group: CheckedTensor["group"], name: string, a: ArrayLike<number>) => {
    rows.push({ group, name, error: relativeError(a, required(c, name)) });
  };
  for (const key of c.keys()) {
    if (!key.startsWith("act.")) continue;
    const expected = required(c, key);
    const path = key.slice("act.".length);
    // conv_norm_out is fused with its SiLU here: compare with silu(reference).
    const fused = path === "conv_norm_out";
    const t = unet.activations.get(fused ? "conv_norm_out.silu" : path);
    if (!t) {
      unmatched.push(key);
      continue;
    }
    const mine = (await readback(gpu, t)).subarray(0, expected.length);
    rows.push({
      group: "activations",
      name: key,
      error: relativeError(mine, fused ? expected.map(silu) : expected),
    });
  }
  if (c.has("output.sample")) check("output", "output.sample", await readback(gpu, unet.output));
  if (!withBackward) return { rows, unmatched };
  if (c.has("loss")) check("loss", "loss", await readback(gpu, loss));
  const grads = await readback(gpu, unet.params.grads);
  for (const e of unet.params.layout.entries) {
    const name = `grad.${e.name}`;
    if (c.has(name)) check("param grads", name, grads.subarray(e.offset, e.offset + e.size));
  }
  if (c.has("grad.input.sample")) {
    check("input grads", "grad.input.sample", await readback(gpu, unet.dSample));
  }
  if (c.has("grad.input.encoder_hidden_states")) {
    check(
      "input grads",
      "grad.input.encoder_hidden_states",
      await readback(gpu, unet.dEncoderHiddenStates),
    );
  }
  return { rows, unmatched };
}

/** One line per tensor group: how many tensors, the worst error and which tensor it was. */
export function errorTable(rows: readonly CheckedTensor[]): string {
  const groups = new Map<string, CheckedTensor[]>();
  for (const r of rows) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  const lines = [
    `${"group".padEnd(14)} ${"tensors".padStart(7)}  ${"worst error".padStart(11)}  tensor`,
  ];
  for (const [group, list] of groups) {
    const worst = list.reduce((a, b) => (b.error > a.error ? b : a));
    lines.push(
      `${group.padEnd(14)} ${String(list.length).padStart(7)}  ${
        worst.error.toExponential(2).padStart(11)
      }  ${worst.name}`,
    );
  }
  return lines.join("\n");
}
