// `deno task sample` end to end on a tiny checkpoint trained at sample_size 8: its flags read by the
// shared parser (CLI names in the refusals), the grid drawn at the model's sprite size, and the
// per-class figure byte for byte the one /api/grid.png serves for the same model and settings.
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { CLI_SAMPLING_LIMITS, sampleCommand } from "../../cli/sample.ts";
import { writeNpy } from "../../data/npy.ts";
import { decodePngRgb, encodePng, spriteGrid } from "../../data/png.ts";
import { latentsToBase64 } from "../../gpu/sample/latents.ts";
import { inputErrorStatus } from "../../errors.ts";
import type { UNetConfig } from "../../gpu/model/config.ts";
import { loadSpriteModel, saveSpriteModel } from "../../data/model_folder.ts";
import { parseSamplingRequest } from "../../gpu/sample/request.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { createApp } from "../../routes/app.ts";
import { getGpu, tinyConfig } from "../util.ts";

const gpu = await getGpu();
const config: UNetConfig = { ...tinyConfig, sample_size: 8 };

async function withCheckpoint(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cli_sample_" });
  try {
    await saveSpriteModel(gpu, `${dir}/model`, randomSpriteModel(gpu, config, 11));
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sample command: class and labels grids at the model's size; the per-class grid is grid.png's", async () => {
  await withCheckpoint(async (dir) => {
    const model = `${dir}/model`;
    const run = async (...flags: string[]) => {
      await sampleCommand(["--model", model, "--steps", "2", "--out", `${dir}/out.png`, ...flags]);
      return await Deno.readFile(`${dir}/out.png`);
    };
    // 3 food sprites at scale 2 in one row: 8 px sprites, 2 px gaps.
    const food = decodePngRgb(await run("--class", "food", "--count", "3", "--scale", "2"));
    assertEquals([food.width, food.height], [3 * (16 + 2) + 2, 16 + 4]);
    // A mixture, 16 by default: two rows of 8.
    const mix = decodePngRgb(await run("--labels", "0.5,0,0.5,0,0", "--scale", "1"));
    assertEquals([mix.width, mix.height], [8 * 10 + 2, 2 * 10 + 2]);

    const cliGrid = await run("--per-class", "3", "--seed", "5", "--scale", "1");
    const img = decodePngRgb(cliGrid);
    assertEquals([img.width, img.height], [3 * 10 + 2, 5 * 10 + 2]);
    const app = await createApp({ model: { kind: "folder", dir: model } });
    try {
      const res = await app.handler(
        new Request("http://localhost/api/grid.png?per_class=3&steps=2&seed=5&scale=1"),
      );
      assertEquals(res.status, 200);
      assertEquals(new Uint8Array(await res.arrayBuffer()), cliGrid);
    } finally {
      await app.close();
    }
  });
});

Deno.test("sample command: bad flags are refused with their flag names (exit 2)", async () => {
  await withCheckpoint(async (dir) => {
    const cases: [string[], RegExp][] = [
      [["--count", "3"], /^--count needs --class or --labels$/],
      [["--class", "0", "--labels", "1,0,0,0,0"], /^give --class or --labels, not both$/],
      [["--per-class", "65"], /^--per-class must be in \[1, 64\], got 65$/],
      [["--class", "0", "--count", "1025"], /^--count must be in \[1, 1024\], got 1025$/],
      [["--labels", "1,0"], /^--labels need 5 weights/],
      [["--class", "dragon"], /unknown class "dragon"/],
      [["--scheduler", "euler"], /^--scheduler must be "ddim" or "ddpm"/],
      [["--scale", "33"], /^--scale must be in \[1, 32\]/],
      [["--steps="], /^--steps needs a value$/],
      [["--bogus"], /bogus/],
    ];
    for (const [flags, pattern] of cases) {
      await rejects(sampleCommand(["--model", `${dir}/model`, ...flags]), (e: Error) => {
        ok(inputErrorStatus(e) !== undefined, `${flags.join(" ")}: threw ${e}`);
        ok(pattern.test(e.message), `${flags.join(" ")}: "${e.message}" lacks ${pattern}`);
        return true;
      });
    }
  });
});

Deno.test("sample command: what a user meets first is one clear line, before any slow work", async () => {
  const unet =
    new URL("../../../shared/fixtures/diffusers-ref/unet_small", import.meta.url).pathname;
  await withCheckpoint(async (dir) => {
    const refuse = async (flags: string[], pattern: RegExp) => {
      await rejects(sampleCommand(flags), (e: Error) => {
        ok(inputErrorStatus(e) !== undefined, `${flags.join(" ")}: threw ${e}`);
        ok(pattern.test(e.message), `${flags.join(" ")}: "${e.message}" lacks ${pattern}`);
        return true;
      });
    };
    const model = ["--model", `${dir}/model`];
    // A negative value is a value to range-check, not "an ambiguous flag".
    await refuse([...model, "--guidance", "-1"], /^--guidance must be in \[0, 20\], got -1$/);
    await refuse([...model, "--out", `${dir}/x.jpg`], /x\.jpg: the grid is written as PNG/);
    await refuse([...model, "--out", dir + "/"], /give a name ending in \.png/);
    // A plain diffusers UNet folder names the file it lacks and how to add it.
    await refuse(
      ["--model", unet, "--steps", "1"],
      /no class-embedding net \(emb_net\.safetensors\)/,
    );
    // A missing output folder is made; a training run's folder is taken as its checkpoint.
    await Deno.rename(`${dir}/model`, `${dir}/checkpoint`);
    await Deno.mkdir(`${dir}/run`);
    await Deno.rename(`${dir}/checkpoint`, `${dir}/run/checkpoint`);
    const out = `${dir}/new/folder/grid.png`;
    await sampleCommand([
      "--model",
      `${dir}/run`,
      "--per-class",
      "1",
      "--steps",
      "1",
      "--out",
      out,
    ]);
    ok((await Deno.stat(out)).size > 0);
  });
});

Deno.test("sample command: --noise FILE.npy starts from that noise, as /api/generate's latents do", async () => {
  await withCheckpoint(async (dir) => {
    const model = `${dir}/model`;
    // [2, 3, 8, 8] float32, NCHW as torch's latents.
    const noise = Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => Math.sin(i * 1.7));
    await writeNpy(`${dir}/noise.npy`, noise, [2, 3, 8, 8]);
    const out = `${dir}/noise.png`;
    const flags = ["--model", model, "--class", "food", "--steps", "2", "--scale", "1"];
    await sampleCommand([...flags, "--noise", `${dir}/noise.npy`, "--out", out]);
    const cli = await Deno.readFile(out);
    assertEquals([decodePngRgb(cli).width, decodePngRgb(cli).height], [2 * 10 + 2, 10 + 2]);
    // The engine itself, given the same noise as `latents`, makes the same grid.
    const loaded = await loadSpriteModel(gpu, model);
    const request = parseSamplingRequest(
      { class: "food", steps: 2, scale: 1, latents: latentsToBase64(noise) },
      {
        classNames: loaded.classNames,
        limits: CLI_SAMPLING_LIMITS,
        forms: ["class"],
        noiseShape: [3, 8, 8],
      },
    );
    const sprites = await new SpriteSampler(gpu, loaded).generate(request.job);
    const grid = spriteGrid(sprites, request.rows, request.cols, 1, {
      spriteHeight: 8,
      spriteWidth: 8,
    });
    assertEquals(
      encodePng(grid.rgb, grid.width, grid.height),
      cli,
      "the CLI's grid is the engine's",
    );
    await sampleCommand([...flags, "--out", out]);
    ok((await Deno.readFile(out)).some((v, i) => v !== cli[i]), "the seed's noise is another");

    await writeNpy(`${dir}/big.npy`, new Float32Array(3 * 16 * 16), [1, 3, 16, 16]);
    await writeNpy(`${dir}/bytes.npy`, new Uint8Array(3 * 8 * 8), [3, 8, 8]);
    const cases: [string[], RegExp][] = [
      [
        ["--noise", `${dir}/noise.npy`, "--count", "3"],
        /^--noise hold the noise of 2 sprites; this request makes 3$/,
      ],
      [
        ["--noise", `${dir}/big.npy`],
        /big\.npy is \[1, 3, 16, 16\]; this model's noise is \[count, 3, 8, 8\]/,
      ],
      [["--noise", `${dir}/bytes.npy`], /bytes\.npy: u1 values; the noise is float32 or float64/],
      [["--noise", `${dir}/none.npy`], /none\.npy/],
    ];
    for (const [more, pattern] of cases) {
      await rejects(sampleCommand([...flags, ...more, "--out", out]), (e: Error) => {
        ok(inputErrorStatus(e) !== undefined, `${more.join(" ")}: threw ${e}`);
        ok(pattern.test(e.message), `${more.join(" ")}: "${e.message}" lacks ${pattern}`);
        return true;
      });
    }
  });
});
