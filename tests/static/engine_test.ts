// static/engine.ts in Deno: the page's engine fetches the served model's files from a running
// server and gives exactly the server's sprites (same adapter, same kernels), refuses what the
// server refuses with the same message, and names a missing file.
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { decodePngRgb, spriteGrid } from "../../data/png.ts";
import { saveSpriteModel } from "../../data/model_folder.ts";
import { getGpu } from "../../gpu/runtime/device.ts";
import { loadOnDevice } from "../../static/engine.ts";
import { startTestServer, tinyModel } from "../routes/helpers.ts";

const gpu = await getGpu();

Deno.test("engine: the served model's files on a device of its own give the server's sprites", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sprite-engine-" });
  const model = tinyModel(gpu, 21);
  await saveSpriteModel(gpu, dir, model);
  const server = await startTestServer({ model: { kind: "folder", dir } });
  try {
    const engine = await loadOnDevice(`${server.url}/api/model/files/`);
    assertEquals(engine.model.classNames, model.classNames);
    ok(engine.gpu.device !== gpu.device, "a device of its own");
    const requests = [
      { class: 2, count: 3, steps: 2, seed: 4 },
      { labels: [0.5, 0, 0, 0.5, 0], count: 2, steps: 3, guidance: 2, seed: 1 },
      { classes: ["human", "spell"], count: 2, steps: 2, scheduler: "ddpm", seed: 8 },
    ];
    for (const fields of requests) {
      const steps: number[] = [];
      const mine = await engine.generate(fields, (done) => steps.push(done));
      assertEquals(steps, Array.from({ length: fields.steps }, (_, i) => i + 1));
      const res = await fetch(`${server.url}/api/generate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(fields),
      });
      const png = decodePngRgb(new Uint8Array(await res.arrayBuffer()));
      const { request, sprites, size } = mine;
      const grid = spriteGrid(sprites, request.rows, request.cols, request.scale, {
        spriteHeight: size,
        spriteWidth: size,
      });
      assertEquals([grid.width, grid.height], [png.width, png.height], JSON.stringify(fields));
      assertEquals(grid.rgb, png.rgb, JSON.stringify(fields));
    }
    await rejects(engine.generate({ class: "food", steps: 0 }), /steps must be in \[1, 1000\]/);
    await rejects(engine.generate({ class: "dragon" }), /unknown class "dragon"/);
    await rejects(engine.generate({ class: 0, count: 65 }), /count must be in \[1, 64\]/);
    engine.gpu.device.destroy();
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine: a server without model files is refused, naming the file", async () => {
  const server = await startTestServer();
  try {
    await rejects(
      loadOnDevice(`${server.url}/api/model/files/`),
      /\/api\/model\/files\/config\.json: 404/,
    );
  } finally {
    await server.close();
  }
});
