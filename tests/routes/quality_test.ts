// The quality routes through a real socket, on a tiny model and the toy sprite set: bad bodies
// refused before any work, no classifier -> 409, a run with its progress events whose report,
// table and montages equal what the same evaluation gives when called directly, one at a time, and
// generation served meanwhile.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { measureQuality } from "../../data/eval_files.ts";
import { loadSpriteModel } from "../../data/model_folder.ts";
import { decodePngRgb } from "../../data/png.ts";
import { samplerGenerator } from "../../gpu/eval/evaluate.ts";
import { reportTable } from "../../gpu/eval/table.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { QUALITY_DEFAULTS } from "../../routes/quality.ts";
import { getGpu } from "../util.ts";
import { withToyServer } from "./toy_server.ts";

const gpu = await getGpu();

const postQuality = (url: string, body: unknown) =>
  fetch(`${url}/api/quality`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

async function detail(res: Response): Promise<string> {
  const body = await res.json();
  return `${body.error}: ${body.detail}`;
}

/** Every event of an SSE answer until it ends. */
async function readEvents(res: Response): Promise<{ name: string; data: unknown }[]> {
  const text = await res.text();
  return text.split("\n\n").filter((b) => b.startsWith("event: ")).map((b) => ({
    name: /^event: (.*)$/m.exec(b)![1],
    data: JSON.parse(/^data: (.*)$/m.exec(b)![1]),
  }));
}

Deno.test("quality routes: refusals, a run with progress, the report and montages of the CLI's evaluation", async () => {
  await withToyServer(async ({ server, modelDir, dataset, makeJudge }) => {
    const url = server.url;
    for (
      const [body, pattern] of [
        [{ per_class: 1000 }, /per_class must be in \[2, 64\]/],
        [{ per_class: 3.5 }, /per_class must be an integer/],
        [{ guidances: "x" }, /guidances must be a number/],
        [{ guidances: [1, "a"] }, /guidances must be a number/],
        [{ guidances: [] }, /guidances must be a list/],
        [{ steps: 0 }, /steps must be in/],
        [{ model: "other" }, /unknown field model/],
        ["{not json", /JSON/],
      ] as const
    ) {
      const res = await postQuality(url, body);
      const text = await detail(res);
      assertEquals(res.status, 400, text);
      ok(pattern.test(text), `${text} does not match ${pattern}`);
    }
    assertEquals((await (await fetch(`${url}/api/quality`)).json()).status, "idle");
    const before = await fetch(`${url}/api/quality/samples.png`);
    assertEquals(before.status, 404);
    await before.body?.cancel();

    // No classifier beside the model yet: a 409 that names the CLI, nothing started.
    const none = await postQuality(url, {});
    const noneText = await detail(none);
    assertEquals(none.status, 409, noneText);
    ok(/no classifier/.test(noneText) && /deno task eval/.test(noneText), noneText);
    assertEquals((await (await fetch(`${url}/api/quality`)).json()).status, "idle");

    // The classifier as `deno task eval` makes it, on the data the server measures against.
    const judge = await makeJudge();

    const request = { per_class: 4, guidances: [1, 2], steps: 2, seed: 3 };
    const started = await postQuality(url, request);
    const view = await started.json();
    assertEquals(started.status, 202, JSON.stringify(view));
    assertEquals(view.status, "running");
    const second = await postQuality(url, request);
    const secondText = await detail(second);
    assertEquals(second.status, 409, secondText);
    ok(/already running/.test(secondText), secondText);

    const stream = fetch(`${url}/api/quality/events`);
    // Generation and health are served while it runs.
    const gen = await fetch(`${url}/api/generate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ class: "red", count: 2, steps: 2 }),
    });
    assertEquals(gen.status, 200);
    await gen.arrayBuffer();
    assertEquals((await (await fetch(`${url}/api/health`)).json()).ok, true);

    const events = await readEvents(await stream);
    assertEquals(events[0].name, "state");
    const progress = events.filter((e) => e.name === "progress").map((e) =>
      e.data as { done: number; total: number; phase: string }
    );
    ok(progress.length >= 3, JSON.stringify(events.map((e) => e.name)));
    ok(progress.every((p) => p.done <= p.total && typeof p.phase === "string"));
    const end = events.at(-1)!;
    assertEquals(end.name, "end");
    const done = end.data as { status: string; report: Record<string, unknown>; table: string };
    assertEquals(done.status, "done", JSON.stringify(done));
    assertEquals(await (await fetch(`${url}/api/quality`)).json(), done);

    // The same evaluation called directly, on the same model, data and classifier.
    const model = await loadSpriteModel(gpu, modelDir);
    const settings = { ...QUALITY_DEFAULTS, perClass: 4, guidances: [1, 2], steps: 2, seed: 3 };
    const direct = await measureQuality(gpu, {
      generator: samplerGenerator(new SpriteSampler(gpu, model), settings.steps),
      judge,
      dataset,
      settings,
      describe: {
        model: "model",
        data: { sprites: "sprites.npy", labels: "labels.npy", clean: true },
        classifier: "classifier/",
      },
    });
    const plain = (r: Record<string, unknown>) => {
      const { seconds: _s, ...rest } = JSON.parse(JSON.stringify(r));
      return rest;
    };
    assertEquals(plain(done.report), plain(direct.report as unknown as Record<string, unknown>));
    assertEquals(done.table, reportTable(direct.result.report, "quality of model"));

    for (
      const [name, bytes, size] of [
        ["samples", direct.montages.samples, [4 * 50 + 2, 4 * 50 + 2]], // 4 classes x 4, 16 px x 3
        ["nearest", direct.montages.nearest, [16 * 50 + 2, 2 * 50 + 2]], // 16 pairs: 2 rows
      ] as const
    ) {
      const res = await fetch(`${url}/api/quality/${name}.png`);
      assertEquals(res.headers.get("content-type"), "image/png");
      const png = new Uint8Array(await res.arrayBuffer());
      const img = decodePngRgb(png);
      assertEquals([img.width, img.height], size, name);
      assertEquals(png, bytes, `${name}.png is the CLI's montage`);
    }
  });
});
