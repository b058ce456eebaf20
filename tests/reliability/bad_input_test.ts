// Bad input that used to pass: class weights past float32 (1e39 became inf, then blank sprites),
// NaN weights in a checkpoint, a model whose output is not finite, /dev/zero as a dataset (3.9 GB
// read before the header was checked), a FIFO (the read hung), and a training_state.json whose
// step_in_epoch lies beyond its epoch (every resume exited 0 without training). Each now fails at
// once with a message naming what is wrong.
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { sampleCommand } from "../../cli/sample.ts";
import { trainCommand } from "../../cli/train.ts";
import { saveSpriteModel } from "../../data/model_folder.ts";
import { inputErrorStatus } from "../../errors.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { NonFiniteResultError, RequestError } from "../../gpu/runtime/errors.ts";
import { upload } from "../../gpu/runtime/tensor.ts";
import { parseSamplingRequest } from "../../gpu/sample/request.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { createApp } from "../../routes/app.ts";
import { SERVER_SAMPLING_LIMITS } from "../../routes/context.ts";
import { getGpu, tinyConfig } from "../util.ts";
import { tinyConfigFile, tinyTrainingSet } from "./helpers.ts";

const gpu = await getGpu();

/** Rejects with an input error (exit 2, HTTP 4xx) whose message matches, within `ms`. */
async function refusedQuickly(p: () => Promise<unknown>, pattern: RegExp, ms = 3000) {
  const t0 = performance.now();
  await rejects(p, (e: Error) => {
    ok(inputErrorStatus(e) !== undefined, `not an input error: ${e.stack}`);
    ok(pattern.test(e.message), `"${e.message}" lacks ${pattern}`);
    return true;
  });
  const took = performance.now() - t0;
  ok(took < ms, `took ${took.toFixed(0)} ms`);
}

Deno.test("bad input: class weights past float32 (or just huge) are refused", () => {
  const spec = {
    classNames: ["a", "b", "c", "d", "e"],
    limits: SERVER_SAMPLING_LIMITS,
    forms: ["labels"] as const,
  };
  for (const labels of [[1e39, 0, 0, 0, 0], "0,0,3e38,0,0", [[1, 0, 0, 0, 0], [0, 1e4, 0, 0, 0]]]) {
    try {
      parseSamplingRequest({ labels }, spec);
      ok(false, `${JSON.stringify(labels)} passed`);
    } catch (e) {
      ok(e instanceof RequestError && /at most 1000/.test(e.message), String(e));
    }
  }
  assertEquals(parseSamplingRequest({ labels: [1000, 0, 0, 0, 0.5] }, spec).job.count, 8);
});

Deno.test("bad input: NaN weights in a checkpoint are refused where it loads; non-finite output is 422", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bad_nan_" });
  try {
    const model = randomSpriteModel(gpu, tinyConfig, 3);
    const values = new Float32Array(model.unetParams.layout.totalElements).fill(0.01);
    values[123] = NaN;
    upload(gpu, model.unetParams.data, values);
    await saveSpriteModel(gpu, `${dir}/nan`, model);
    const named = /diffusion_pytorch_model\.safetensors: tensor .* holds NaN/;
    await refusedQuickly(
      () => sampleCommand(["--model", `${dir}/nan`, "--out", `${dir}/x.png`]),
      named,
      10_000,
    );
    await refusedQuickly(
      () => createApp({ model: { kind: "folder", dir: `${dir}/nan` } }),
      named,
      10_000,
    );

    // Finite weights whose output is not: reported, not returned as blank sprites.
    upload(gpu, model.unetParams.data, values.fill(1e30));
    const sampler = new SpriteSampler(gpu, model);
    await rejects(
      () =>
        sampler.generate({
          labels: new Float32Array(5).fill(1),
          count: 1,
          steps: 1,
          eta: 0,
          seed: 1,
          guidance: 1,
          scheduler: "ddim",
        }),
      (e: Error) => e instanceof NonFiniteResultError && inputErrorStatus(e) === 422,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad input: /dev/zero, a FIFO and a file shorter than its header are refused at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bad_files_" });
  try {
    const fifo = `${dir}/fifo.npy`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assertEquals(made.code, 0);
    const data = await tinyTrainingSet(dir, 8);
    await refusedQuickly(
      () => trainCommand(["--sprites", "/dev/zero", "--labels", data.labels]),
      /\/dev\/zero is a character device, not a regular file/,
      1000,
    );
    await refusedQuickly(
      () => trainCommand(["--sprites", fifo, "--labels", data.labels]),
      /fifo\.npy is a FIFO, not a regular file/,
      1000,
    );
    // A header that promises more than the file holds: refused from the header and the size alone.
    const bytes = await Deno.readFile(data.sprites);
    await Deno.writeFile(`${dir}/short.npy`, bytes.subarray(0, bytes.length - 100));
    await refusedQuickly(
      () => trainCommand(["--sprites", `${dir}/short.npy`, "--labels", data.labels]),
      /truncated: shape \[8,16,16,3\] of u1 needs 6144 data bytes, the file has 6044/,
      1000,
    );
    // A checkpoint file that is a FIFO.
    await saveSpriteModel(gpu, `${dir}/model`, randomSpriteModel(gpu, tinyConfig, 1));
    await Deno.remove(`${dir}/model/emb_net.safetensors`);
    await new Deno.Command("mkfifo", { args: [`${dir}/model/emb_net.safetensors`] }).output();
    await refusedQuickly(
      () => sampleCommand(["--model", `${dir}/model`, "--out", `${dir}/x.png`]),
      /emb_net\.safetensors is a FIFO/,
      1000,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad input: a training state beyond its epoch is refused on resume", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bad_state_" });
  try {
    const data = await tinyTrainingSet(dir, 8);
    const run = `${dir}/run`;
    await trainCommand([
      ...[
        "--config",
        await tinyConfigFile(dir),
        "--sprites",
        data.sprites,
        "--labels",
        data.labels,
      ],
      ...["--no-clean", "--batch", "4", "--epochs", "3", "--max-steps", "1", "--out", run],
    ]);
    const path = `${run}/checkpoint/training_state.json`;
    const state = JSON.parse(await Deno.readTextFile(path));
    assertEquals([state.epoch, state.step_in_epoch, state.step], [0, 1, 1]);
    await Deno.writeTextFile(path, JSON.stringify({ ...state, step_in_epoch: 99, step: 99 }));
    await refusedQuickly(
      () => trainCommand(["--resume", run]),
      /at step 99 of epoch 1 .* an epoch of this run has 2 steps/,
      10_000,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
