// POST /api/generate: sprites of one class, of several classes (a row each), or of explicit class
// vectors (mixtures), as a PNG grid or as JSON with one PNG data URL per sprite. Class names,
// indices and weights go through data/labels.ts, as `deno task sample`'s do.
import { encodePng, spriteGrid } from "../data/png.ts";
import { classIndex, oneHot, parseWeights, repeatVector } from "../gpu/sample/labels.ts";
import { InputError } from "../errors.ts";
import type { SchedulerName } from "../gpu/sample/sampler.ts";
import type { AppContext } from "./context.ts";
import type { GenerationJob } from "./generation_queue.ts";
import { json, numberField, png, readJsonObject, route } from "./http.ts";

export interface SamplingOptions {
  steps: number;
  eta: number;
  seed: number;
  guidance: number;
  scheduler: SchedulerName;
}

/** steps, eta, seed, guidance and scheduler from a body or a query, each checked. */
export function samplingOptions(o: Record<string, unknown>): SamplingOptions {
  const scheduler = o.scheduler ?? "ddim";
  if (scheduler !== "ddim" && scheduler !== "ddpm") {
    throw new InputError(`scheduler must be "ddim" or "ddpm", got ${JSON.stringify(scheduler)}`);
  }
  return {
    steps: numberField(o.steps, "steps", 10, { min: 1, max: 1000, integer: true }),
    eta: numberField(o.eta, "eta", 0, { min: 0, max: 1 }),
    seed: numberField(o.seed, "seed", 1, { min: 0, max: 2 ** 32 - 1, integer: true }),
    guidance: numberField(o.guidance, "guidance", 1, { min: 0, max: 20 }),
    scheduler,
  };
}

export function scaleOption(o: Record<string, unknown>): number {
  return numberField(o.scale, "scale", 4, { min: 1, max: 16, integer: true });
}

/** "png" or "json": the `format` field wins, then the Accept header; PNG by default. */
export function responseFormat(req: Request, o: Record<string, unknown>): "png" | "json" {
  if (o.format !== undefined) {
    if (o.format !== "png" && o.format !== "json") {
      throw new InputError(`format must be "png" or "json", got ${JSON.stringify(o.format)}`);
    }
    return o.format;
  }
  const accept = req.headers.get("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("image/png") ? "json" : "png";
}

const FIELDS = new Set([
  "class",
  "classes",
  "labels",
  "count",
  "steps",
  "eta",
  "seed",
  "guidance",
  "scheduler",
  "format",
  "scale",
]);

interface Layout {
  labels: Float32Array;
  count: number;
  rows: number;
  cols: number;
}

function layoutFor(body: Record<string, unknown>, ctx: AppContext): Layout {
  const names = ctx.model.classNames;
  const k = names.length;
  const given = ["class", "classes", "labels"].filter((f) => body[f] !== undefined);
  if (given.length !== 1) {
    throw new InputError(
      `give exactly one of class, classes or labels${
        given.length ? `, not ${given.join(" and ")}` : ""
      }`,
    );
  }
  const max = ctx.limits.maxCount;
  const countOf = (fallback: number) =>
    numberField(body.count, "count", fallback, { min: 1, max, integer: true });
  const checkTotal = (n: number) => {
    if (n > max) throw new InputError(`${n} sprites asked for; one request may ask for ${max}`);
  };
  const cls = (v: unknown) => {
    if (typeof v !== "string" && typeof v !== "number") {
      throw new InputError(`a class is a name or an index, got ${JSON.stringify(v)}`);
    }
    return classIndex(names, v);
  };

  if (body.class !== undefined) {
    const count = countOf(8);
    return { labels: repeatVector(oneHot(k, cls(body.class)), count), count, ...gridShape(count) };
  }
  if (body.classes !== undefined) {
    if (!Array.isArray(body.classes) || body.classes.length === 0) {
      throw new InputError("classes must be a non-empty list of class names or indices");
    }
    const per = countOf(4);
    const rows = body.classes.length;
    checkTotal(rows * per);
    const labels = new Float32Array(rows * per * k);
    body.classes.forEach((c, r) => labels.set(repeatVector(oneHot(k, cls(c)), per), r * per * k));
    return { labels, count: rows * per, rows, cols: per };
  }
  const l = body.labels;
  if (Array.isArray(l) && l.length > 0 && l.every(Array.isArray)) {
    // One vector per sprite.
    if (body.count !== undefined) {
      throw new InputError("count goes with one label vector, not a list");
    }
    checkTotal(l.length);
    const labels = new Float32Array(l.length * k);
    l.forEach((v, i) => labels.set(parseWeights(v as unknown[], k), i * k));
    return { labels, count: l.length, ...gridShape(l.length) };
  }
  if (typeof l !== "string" && !Array.isArray(l)) {
    throw new InputError(
      `labels must be ${k} weights (a list or "w0,w1,...") or a list of such vectors`,
    );
  }
  const count = countOf(8);
  return { labels: repeatVector(parseWeights(l, k), count), count, ...gridShape(count) };
}

export function gridShape(count: number): { rows: number; cols: number } {
  const cols = Math.min(count, 8);
  return { rows: Math.ceil(count / cols), cols };
}

export function dataUrl(png: Uint8Array): string {
  let s = "";
  for (let i = 0; i < png.length; i += 0x8000) {
    s += String.fromCharCode(...png.subarray(i, i + 0x8000));
  }
  return `data:image/png;base64,${btoa(s)}`;
}

/** Runs a job through the queue; answers with the grid PNG or JSON, timed. */
export async function spritesResponse(
  ctx: AppContext,
  job: GenerationJob,
  shape: { rows: number; cols: number; scale: number },
  format: "png" | "json",
): Promise<Response> {
  const started = performance.now();
  const sprites = await ctx.queue.generate(job);
  const ms = Math.round(performance.now() - started);
  const size = ctx.model.config.sample_size ?? 16;
  const grid = spriteGrid(sprites, shape.rows, shape.cols, shape.scale, {
    spriteHeight: size,
    spriteWidth: size,
  });
  const gridPng = encodePng(grid.rgb, grid.width, grid.height);
  const headers = { "x-generation-ms": String(ms), "x-seed": String(job.seed) };
  if (format === "png") return png(gridPng, headers);
  const px = size * size * 3;
  const one = (i: number) => {
    const g = spriteGrid(sprites.subarray(i * px, (i + 1) * px), 1, 1, shape.scale, {
      spriteHeight: size,
      spriteWidth: size,
      gap: 0,
    });
    return dataUrl(encodePng(g.rgb, g.width, g.height));
  };
  return json(
    {
      count: job.count,
      rows: shape.rows,
      cols: shape.cols,
      steps: job.steps,
      eta: job.eta,
      seed: job.seed,
      guidance: job.guidance,
      scheduler: job.scheduler,
      ms,
      grid: dataUrl(gridPng),
      sprites: Array.from({ length: job.count }, (_, i) => one(i)),
    },
    200,
    headers,
  );
}

export const generateRoutes = [
  route("POST", "/api/generate", async (req, ctx) => {
    const body = await readJsonObject(req, ctx.limits.maxBodyBytes);
    const unknown = Object.keys(body).filter((f) => !FIELDS.has(f));
    if (unknown.length) {
      throw new InputError(
        `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; known: ${
          [...FIELDS].join(", ")
        }`,
      );
    }
    const format = responseFormat(req, body);
    const layout = layoutFor(body, ctx);
    const job = { ...samplingOptions(body), labels: layout.labels, count: layout.count };
    return await spritesResponse(ctx, job, { ...layout, scale: scaleOption(body) }, format);
  }),
];
