// Every route through a real socket, with a tiny random-init model: answers, errors and limits,
// same seed same bytes, and many concurrent requests merged onto the one GPU queue.
import { deepStrictEqual as assertEquals, notDeepStrictEqual, ok } from "node:assert/strict";
import { decodePngRgb } from "../../data/png.ts";
import { getGpu } from "../../gpu/runtime/device.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { createSeed, fillNormal } from "../../gpu/runtime/random.ts";
import { createTensor, readback } from "../../gpu/runtime/tensor.ts";
import { latentsToBase64 } from "../../gpu/sample/latents.ts";
import { startTestServer, type TestServer } from "./helpers.ts";

let server: TestServer | undefined;
async function url(path: string): Promise<string> {
  server ??= await startTestServer({ limits: { maxBodyBytes: 32768 } });
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
  // The adapter itself, not the CLI's "adapter: ..." line.
  ok(health.adapter.length > 0 && !/^adapter/.test(health.adapter), health.adapter);
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
  await assertError(post({ class: 0, pad: "x".repeat(40_000) }), 413, /limit/);
  await assertError(get("/api/generate"), 405, /use POST/);
});

/** A Server-Sent Events body as [event, data] pairs. */
export function sseEvents(text: string): [string, unknown][] {
  return text.split("\n\n").filter((b) => b.trim() && !b.startsWith(":")).map((block) => {
    const name = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
    const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
    return [name, JSON.parse(data.join("\n"))];
  });
}

Deno.test("generate: a stream of events, queued, the pass's steps, then the JSON answer", async () => {
  const fields = { class: "spell", count: 2, steps, seed: 4 };
  const { res, text } = await post(fields, { accept: "text/event-stream" });
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const events = sseEvents(text());
  assertEquals(events.map(([e]) => e), ["queued", "progress", "progress", "progress", "result"]);
  assertEquals(events.slice(1, 4).map(([, d]) => d), [0, 1, 2].map((done) => ({ done, total: 2 })));
  const result = events[4][1] as Record<string, unknown>;
  const plain = JSON.parse((await post({ ...fields, format: "json" })).text());
  assertEquals(result.sprites, plain.sprites, "the same sprites as the plain answer");
  // The times: the pass's own, and the wait before it, apart.
  ok(typeof result.ms === "number" && typeof result.queue_ms === "number", JSON.stringify(result));
  assertEquals(result.pass, { requests: 1, sprites: 2 });
  const png = await post(fields);
  ok(Number(png.res.headers.get("x-generation-ms")) >= 0);
  ok(Number(png.res.headers.get("x-queue-ms")) >= 0);
  // A request that is refused is refused before the stream, as plain JSON.
  await assertError(post({ class: 0, steps: 0 }, { accept: "text/event-stream" }), 400, /steps/);
});

Deno.test("generate: latents, nested or base64, replace the seed's first draw", async () => {
  const gpu = await getGpu();
  const count = 2;
  // The tiny model's noise: [3, 16, 16] a sprite; the seed's own first draw, made as the sampler does.
  const noise = createTensor(gpu, [count * 768], "f32", "noise");
  await runNow(gpu, [await fillNormal(gpu, { out: noise, seed: createSeed(gpu, 6), stream: 0 })]);
  const drawn = await readback(gpu, noise);
  const nested = Array.from(
    { length: count },
    (_, b) =>
      Array.from(
        { length: 3 },
        (_, c) =>
          Array.from({ length: 16 }, (_, y) =>
            Array.from(
              drawn.subarray(b * 768 + c * 256 + y * 16, b * 768 + c * 256 + y * 16 + 16),
            )),
      ),
  );
  const fields = { class: 1, steps, seed: 6, scale: 1 };
  const bySeed = await post({ ...fields, count });
  const byBase64 = await post({ ...fields, latents: latentsToBase64(drawn) });
  assertEquals(byBase64.res.status, 200, byBase64.text());
  assertEquals(byBase64.bytes, bySeed.bytes, "the seed's own noise gives the seed's sprites");
  // Nested lists (one sprite: a body of ~15 KB), as a torch tensor's .tolist() gives them.
  const one = await post({ ...fields, count: 1, latents: nested.slice(0, 1) });
  assertEquals(one.bytes, (await post({ ...fields, count: 1 })).bytes);
  const json = JSON.parse((await post({ ...fields, latents: nested, format: "json" })).text());
  assertEquals([json.count, json.noise], [2, "latents"]);
  const flipped = await post({ ...fields, latents: latentsToBase64(drawn.map((v) => -v)) });
  notDeepStrictEqual(flipped.bytes, bySeed.bytes);
  await assertError(
    post({ ...fields, count: 3, latents: nested }),
    400,
    /latents hold the noise of 2 sprites; this request makes 3/,
  );
  await assertError(
    post({ ...fields, latents: [nested[0].slice(0, 2)] }),
    400,
    /latents\[0\] must be a list of 3 \(a sprite's noise is \[3, 16, 16\]\)/,
  );
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

Deno.test("training routes: a job fine-tunes the served model; preview, swap and revert", async () => {
  const dir = await Deno.makeTempDir({ prefix: "routes_train_" });
  const trainServer = await startTestServer({ allowTrain: true, trainDir: dir });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(trainServer.url + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const type = res.headers.get("content-type") ?? "";
    return {
      status: res.status,
      headers: res.headers,
      bytes,
      body: type.startsWith("application/json") ? JSON.parse(new TextDecoder().decode(bytes)) : {},
    };
  };
  try {
    for (
      const [body, pattern] of [
        [{ precision: "bf16" }, /precision must be "auto", "f32" or "f16"/],
        [{ batch: 0 }, /batch/],
        [{ colour: 1 }, /unknown field colour/],
        [{ start: "fresh" }, /start must be "serving" or "scratch"/],
        [{ start: "serving", config: "compact" }, /config goes with start "scratch"/],
        [{ start: "scratch", config: "huge" }, /unknown config preset "huge"/],
      ] as const
    ) {
      const r = await call("POST", "/api/train", body);
      assertEquals(r.status, 400, JSON.stringify(r.body));
      ok(pattern.test(r.body.detail), r.body.detail);
    }
    // What a job would run: by default a fine-tune of the served model (a random init here, so
    // with the compact preset's recipe at a tenth of its lr); from scratch only when asked.
    const source = trainServer.app.context.model.source;
    const plan = (await call("GET", "/api/train/recipe")).body;
    assertEquals([plan.start, plan.base, plan.config], ["serving", source, `${source} (served)`]);
    assertEquals(
      [plan.recipe.lr, plan.recipe.epochs, plan.recipe.freezeEpoch, plan.recipe.batch],
      [1e-4, 1, 0, 32],
    );
    const scratch = (await call("GET", "/api/train/recipe?start=scratch")).body;
    assertEquals(
      [scratch.base, scratch.recipe.lr, scratch.recipe.epochs, scratch.recipe.freezeEpoch],
      ["compact preset, random init", 1e-3, 24, 16],
    );
    const reference = (await call("GET", "/api/train/recipe?start=scratch&config=reference")).body;
    assertEquals([reference.recipe.batch, reference.recipe.freezeEpoch], [128, 80]);
    const short = (await call("GET", "/api/train/recipe?start=scratch&epochs=3")).body;
    ok(/never frozen/.test(short.note), JSON.stringify(short));
    assertEquals((await call("GET", "/api/train/preview.png")).status, 409);
    const nothing = await call("POST", "/api/train/revert");
    assertEquals(nothing.status, 409);
    ok(/no previous model/.test(nothing.body.detail), nothing.body.detail);

    // A fine-tune at an lr too small to move a float32 weight: its checkpoint is the served model.
    const started = await call("POST", "/api/train", {
      batch: 4,
      epochs: 1,
      max_steps: 2,
      precision: "f16",
      lr: 1e-12,
    });
    assertEquals(started.status, 202, JSON.stringify(started.body));
    assertEquals([started.body.start, started.body.base], ["serving", source]);
    assertEquals([started.body.recipe.precision, started.body.recipe.freezeEpoch], ["f16", 0]);
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
    assertEquals([saved.fine_tuned_from, saved.config_source], [source, `${source} (served)`]);

    // The preview is the checkpoint's own grid, made without serving it: the served model's here.
    const query = "per_class=2&steps=2&seed=3&scale=1";
    const preview = await call("GET", `/api/train/preview.png?${query}`);
    assertEquals(preview.status, 200);
    assertEquals(preview.headers.get("x-checkpoint"), state.checkpoint);
    assertEquals((await call("GET", "/api/model")).body.source, source, "still serving the old");
    const served = await call("GET", `/api/grid.png?${query}`);
    assertEquals(preview.bytes, served.bytes, "a fine-tune starts from the served weights");

    const swapped = await call("POST", "/api/train/swap");
    assertEquals(swapped.body, { serving: state.checkpoint, previous: source });
    const model = (await call("GET", "/api/model")).body;
    assertEquals([model.source, model.previous], [state.checkpoint, source]);
    const run = state.checkpoint.split("/")[0];
    assertEquals((await call("DELETE", `/api/train/runs/${run}`)).status, 409);
    // One route back, and the checkpoint is now the previous model, kept.
    const back = await call("POST", "/api/train/revert");
    assertEquals(back.body, { serving: source, previous: state.checkpoint });
    assertEquals((await call("GET", `/api/grid.png?${query}`)).bytes, served.bytes);
    const runs = (await call("GET", "/api/train/runs")).body.runs;
    assertEquals(runs.map((r: { previous: boolean }) => r.previous), [true]);
    const kept = await call("DELETE", `/api/train/runs/${run}`);
    assertEquals(kept.status, 409);
    ok(/is the previous model/.test(kept.body.detail), kept.body.detail);
  } finally {
    await trainServer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
