// `deno task sample` end to end on a tiny checkpoint trained at sample_size 8: its flags read by the
// shared parser (CLI names in the refusals), the grid drawn at the model's sprite size, and the
// per-class figure byte for byte the one /api/grid.png serves for the same model and settings.
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { sampleCommand } from "../../cli/sample.ts";
import { decodePngRgb } from "../../data/png.ts";
import { inputErrorStatus } from "../../errors.ts";
import type { UNetConfig } from "../../gpu/model/config.ts";
import { saveSpriteModel } from "../../data/model_folder.ts";
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
