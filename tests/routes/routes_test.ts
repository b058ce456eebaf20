// Every route through a real socket, with a tiny random-init model: answers, errors and limits,
// same seed same bytes, and many concurrent requests merged onto the one GPU queue.
import { deepStrictEqual as assertEquals, notDeepStrictEqual, ok } from "node:assert/strict";
import { decodePngRgb } from "../../data/png.ts";
import { startTestServer, type TestServer } from "./helpers.ts";

let server: TestServer | undefined;
async function url(path: string): Promise<string> {
  server ??= await startTestServer({ limits: { maxBodyBytes: 4096 } });
  return server.url + path;
}

async function get(path: string, init?: RequestInit) {
  const res = await fetch(await url(path), init);
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { res, bytes, text: () => new TextDecoder().decode(bytes) };
}

async function post(body: unknown, headers: Record<string, string> = {}) {
  return await get("/api/generate", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function assertError(p: ReturnType<typeof get>, status: number, pattern: RegExp) {
  const { res, text } = await p;
  const body = JSON.parse(text());
  assertEquals(res.status, status, text());
  ok(typeof body.error === "string", text());
  ok(pattern.test(body.detail), `"${body.detail}" does not match ${pattern}`);
}

const steps = 2; // the tiny model is fast, but fewer steps keep the whole file within seconds

Deno.test("health, model, classes", async () => {
  const health = JSON.parse((await get("/api/health")).text());
  assertEquals(health.ok, true);
  ok(/^adapter: /.test(health.adapter));
  const model = JSON.parse((await get("/api/model")).text());
  assertEquals(model.config.block_out_channels, [8, 16]);
  assertEquals(model.classes.length, 5);
  ok(
    model.parameters.total > 1000 && model.parameters.total === model.parameters.unet +
          model.parameters.embedding,
  );
  assertEquals(model.epoch, null);
  const classes = JSON.parse((await get("/api/classes")).text());
  assertEquals(classes.classes[2], { index: 2, name: "food" });
});

Deno.test("generate: PNG grid, JSON with data URLs, same seed same bytes", async () => {
  const a = await post({ class: "food", count: 3, steps, seed: 9, scale: 2 });
  assertEquals(a.res.headers.get("content-type"), "image/png");
  const img = decodePngRgb(a.bytes);
  assertEquals([img.width, img.height], [3 * (32 + 2) + 2, 32 + 4]);
  const b = await post({ class: 2, count: 3, steps, seed: 9, scale: 2 });
  assertEquals(b.bytes, a.bytes, "same request by index, same bytes");
  const c = await post({ class: 2, count: 3, steps, seed: 10, scale: 2 });
  notDeepStrictEqual(c.bytes, a.bytes);

  const j = await post({ classes: ["human", 4], count: 2, steps, seed: 9 }, {
    accept: "application/json",
  });
  const body = JSON.parse(j.text());
  assertEquals([body.count, body.rows, body.cols, body.seed], [4, 2, 2, 9]);
  assertEquals(body.sprites.length, 4);
  ok(body.sprites[0].startsWith("data:image/png;base64,"));
  ok(body.grid.startsWith("data:image/png;base64,"));
  ok(Number(j.res.headers.get("x-generation-ms")) >= 0);

  const mix = await post({ labels: [0.5, 0, 0.5, 0, 0], count: 2, steps, format: "json" });
  assertEquals(JSON.parse(mix.text()).count, 2);
  const perSprite = await post({ labels: [[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], steps });
  assertEquals(perSprite.res.status, 200);
});

Deno.test("generate: every bad request is refused with its reason", async () => {
  await assertError(post({ class: "dragon" }), 400, /unknown class "dragon"/);
  await assertError(post({ class: 0, count: 65 }), 400, /count must be in \[1, 64\]/);
  await assertError(post({ classes: [0, 1, 2], count: 30 }), 400, /90 sprites/);
  await assertError(post({ class: 0, steps: 0 }), 400, /steps must be in \[1, 1000\]/);
  await assertError(post({ class: 0, steps: 1001 }), 400, /steps/);
  await assertError(post({ class: 0, steps: 2.5 }), 400, /steps must be an integer/);
  await assertError(post({ class: 0, eta: 2 }), 400, /eta must be in \[0, 1\]/);
  await assertError(post({ class: 0, seed: -1 }), 400, /seed/);
  await assertError(post({ class: 0, guidance: "x" }), 400, /guidance must be a number/);
  await assertError(post({ class: 0, scheduler: "euler" }), 400, /scheduler/);
  await assertError(post({ class: 0, format: "gif" }), 400, /format/);
  await assertError(post({ labels: [1, 0] }), 400, /5 weights/);
  await assertError(post({ labels: [1, -1, 0, 0, 0] }), 400, />= 0/);
  await assertError(post({ class: 0, labels: [1, 0, 0, 0, 0] }), 400, /exactly one/);
  await assertError(post({}), 400, /exactly one of class, classes or labels/);
  await assertError(post({ class: 0, colour: "red" }), 400, /unknown field colour/);
  await assertError(post("{not json"), 400, /not valid JSON/);
  await assertError(post("[1, 2]"), 400, /JSON object/);
  await assertError(post({ class: 0, pad: "x".repeat(5000) }), 413, /limit/);
  await assertError(get("/api/generate"), 405, /use POST/);
});

Deno.test("grid.png: one row per class, same seed same bytes, bad query refused", async () => {
  const a = await get(`/api/grid.png?per_class=3&steps=${steps}&seed=1&scale=1`);
  assertEquals(a.res.status, 200);
  const img = decodePngRgb(a.bytes);
  assertEquals([img.width, img.height], [3 * 18 + 2, 5 * 18 + 2]);
  const b = await get(`/api/grid.png?per_class=3&steps=${steps}&seed=1&scale=1`);
  assertEquals(b.bytes, a.bytes);
  const c = await get(`/api/grid.png?per_class=3&steps=${steps}&seed=2&scale=1`);
  notDeepStrictEqual(c.bytes, a.bytes);
  await assertError(get("/api/grid.png?per_class=17"), 400, /per_class must be in \[1, 16\]/);
  await assertError(get("/api/grid.png?eta=-0.1"), 400, /eta/);
  await assertError(get("/api/grid.png?steps=abc"), 400, /steps must be an integer/);
});

Deno.test("dataset: report and example sprites", async () => {
  const report = JSON.parse((await get("/api/dataset")).text());
  assertEquals(report.total, 4470);
  assertEquals(report.kept + report.removed, report.total);
  assertEquals(report.classes.length, 5);
  ok(report.classes[1].removed > report.classes[0].removed);
  const removed = await get("/api/dataset/examples.png?kind=removed&class=1&count=8&scale=1");
  assertEquals(removed.res.headers.get("x-sprites"), "8");
  assertEquals(decodePngRgb(removed.bytes).width, 8 * 18 + 2);
  const kept = await get("/api/dataset/examples.png?kind=kept&class=food&count=3");
  assertEquals(kept.res.headers.get("x-sprites"), "3");
  await assertError(get("/api/dataset/examples.png?kind=odd"), 400, /kind/);
  await assertError(get("/api/dataset/examples.png?class=9"), 400, /unknown class/);
});

Deno.test("static files from static/ only, with their types; unknown paths are 404", async () => {
  const index = await get("/");
  assertEquals(index.res.headers.get("content-type"), "text/html; charset=utf-8");
  ok(index.text().includes("app.js"));
  const js = await get("/static/app.js");
  assertEquals(js.res.headers.get("content-type"), "text/javascript; charset=utf-8");
  const css = await get("/static/style.css");
  assertEquals(css.res.headers.get("content-type"), "text/css; charset=utf-8");
  for (
    const path of [
      "/static/../deno.json",
      "/static/%2e%2e/deno.json",
      "/static/%2e%2e%2fdeno.json",
      "/static/..%2Fmain.ts",
      "/static/.hidden.js",
      "/static/app.tsx",
      "/static/missing.js",
      "/../deno.json",
      "/deno.json",
      "/api/nothing",
    ]
  ) {
    const { res, text } = await get(path);
    ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
    ok(!text().includes("nodeModulesDir") && !text().includes("import"), path);
  }
});

Deno.test("training routes are off unless the server allows them", async () => {
  await assertError(get("/api/train"), 403, /--allow-train/);
});

Deno.test("32 concurrent requests all succeed, merged into few GPU passes", async () => {
  const before = server!.app.context.worker.stats.queue;
  const results = await Promise.all(
    Array.from(
      { length: 32 },
      (_, i) =>
        i % 4 === 3
          ? get(`/api/grid.png?per_class=1&steps=${steps}&seed=${i}`)
          : post({ class: i % 5, count: 1 + (i % 3), steps, seed: i }),
    ),
  );
  for (const r of results) assertEquals(r.res.status, 200);
  const after = server!.app.context.worker.stats.queue;
  assertEquals(after.requests - before.requests, 32);
  ok(after.passes - before.passes < 32, `${after.passes - before.passes} passes for 32 requests`);
  // A request alone gives the bytes it got inside the merged pass.
  const again = await post({ class: 1 % 5, count: 2, steps, seed: 1 });
  assertEquals(again.bytes, results[1].bytes);
});

Deno.test("close the server", async () => {
  await server?.close();
});

Deno.test("training routes: a bad recipe is refused; an f16 job trains, checkpoints and swaps in", async () => {
  const dir = await Deno.makeTempDir({ prefix: "routes_train_" });
  const trainServer = await startTestServer({ allowTrain: true, trainDir: dir });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(trainServer.url + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  try {
    for (
      const [body, pattern] of [
        [{ precision: "bf16" }, /precision must be "auto", "f32" or "f16"/],
        [{ batch: 0 }, /batch/],
        [{ colour: 1 }, /unknown field colour/],
      ] as const
    ) {
      const r = await call("POST", "/api/train", body);
      assertEquals(r.status, 400, JSON.stringify(r.body));
      ok(pattern.test(r.body.detail), r.body.detail);
    }
    const started = await call("POST", "/api/train", {
      batch: 4,
      epochs: 1,
      max_steps: 2,
      precision: "f16",
    });
    assertEquals(started.status, 202, JSON.stringify(started.body));
    assertEquals(started.body.recipe.precision, "f16");
    let state = started.body;
    for (let i = 0; i < 600 && (state.status === "running" || state.status === "stopping"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await call("GET", "/api/train")).body;
    }
    assertEquals(state.status, "done", JSON.stringify(state));
    assertEquals(state.progress.step, 2);
    ok(state.losses.every((l: { loss: number }) => Number.isFinite(l.loss)));
    const saved = JSON.parse(
      await Deno.readTextFile(`${dir}/${state.checkpoint}/training_state.json`),
    );
    assertEquals([saved.recipe.precision, saved.loss_scale.good_steps], ["f16", 2]);
    const swapped = await call("POST", "/api/train/swap");
    assertEquals(swapped.body.serving, state.checkpoint);
  } finally {
    await trainServer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
