// Training jobs over HTTP, off unless the server runs with --allow-train: one job at a time (409
// otherwise, decided before anything is awaited), its state, a Server-Sent Events stream of its
// progress, a stop that writes a checkpoint, a preview grid of that checkpoint, swapping the serving
// model to it (the model it replaces kept one route away: POST /api/train/revert), and the web runs
// kept on disk (listed, capped in number, deletable). A job fine-tunes the served model unless
// "start": "scratch" asks for a new one (routes/train_plan.ts); the recipe is read with the same
// parser and limits as `deno task train`. The job itself runs in the GPU worker (the engine's epoch
// loop on the bundled set, cleaned), writing <trainDir>/web-run-<time>/checkpoint/ every epoch and
// on a stop, and train_log.jsonl.
import { encodePng, spriteGrid } from "../data/png.ts";
import { InputError } from "../errors.ts";
import { refuseUnknownFields } from "../gpu/runtime/fields.ts";
import { samplingOptions } from "../gpu/sample/request.ts";
import { numberField } from "../gpu/runtime/fields.ts";
import { parseRunLimits, RECIPE_FIELD_NAMES, RUN_LIMIT_NAMES } from "../gpu/train/recipe.ts";
import type { AppContext } from "./context.ts";
import type { JobView } from "./gpu_protocol.ts";
import { authorizeTraining } from "./guard.ts";
import { jobEvents, json, png, queryObject, readJsonObject, type Route, route } from "./http.ts";
import { planJob, planView } from "./train_plan.ts";

/** The fields a job request may hold: where it starts, the preset, the recipe's, the run's limits. */
const JOB_FIELDS = ["start", "config", ...RECIPE_FIELD_NAMES, ...RUN_LIMIT_NAMES];
const PLAN_FIELDS = ["start", "config", ...RECIPE_FIELD_NAMES];

/** Web runs' folder names: web-run-<date>-<time>[-n]. */
const RUN_NAME = /^web-run-\d{8}-\d{6}(-\d+)?$/;

const active = (job: JobView | undefined) =>
  job !== undefined && (job.status === "running" || job.status === "stopping");

function view(job: JobView | undefined) {
  return job ?? { status: "idle" };
}

export interface RunInfo {
  name: string;
  bytes: number;
  /** Epochs its train_log.jsonl records. */
  epochs: number;
  running: boolean;
  serving: boolean;
  /** The model the last swap replaced (POST /api/train/revert serves it again). */
  previous: boolean;
}

async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) n += await folderBytes(path);
    else if (e.isFile) n += (await Deno.stat(path)).size;
  }
  return n;
}

/** The web runs in the training folder, oldest first. */
export async function listRuns(ctx: AppContext): Promise<RunInfo[]> {
  const runs: RunInfo[] = [];
  try {
    for await (const e of Deno.readDir(ctx.trainDir)) {
      if (!e.isDirectory || !RUN_NAME.test(e.name)) continue;
      const dir = `${ctx.trainDir}/${e.name}`;
      const log = await Deno.readTextFile(`${dir}/train_log.jsonl`).catch(() => "");
      const job = ctx.worker.job;
      runs.push({
        name: e.name,
        bytes: await folderBytes(dir).catch(() => 0),
        epochs: log.split("\n").filter((l) => l.trim()).length,
        running: active(job) && job!.run === e.name,
        serving: ctx.servingDir === `${dir}/checkpoint`,
        previous: ctx.previousDir === `${dir}/checkpoint`,
      });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // The running job's run counts before its first checkpoint makes its folder.
  const job = ctx.worker.job;
  if (active(job) && !runs.some((r) => r.name === job!.run)) {
    runs.push({
      name: job!.run,
      bytes: 0,
      epochs: 0,
      running: true,
      serving: false,
      previous: false,
    });
  }
  return runs.sort((a, b) => a.name.localeCompare(b.name));
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
}

/** A fresh run name (two jobs in one second get -2, -3, ...). */
function newRunName(existing: RunInfo[]): string {
  const base = `web-run-${stamp()}`;
  const names = new Set(existing.map((r) => r.name));
  let name = base;
  for (let i = 2; names.has(name); i++) name = `${base}-${i}`;
  return name;
}

async function startJob(req: Request, ctx: AppContext): Promise<Response> {
  const body = await readJsonObject(req, ctx.limits.maxBodyBytes, ctx.limits.bodyTimeoutMs);
  refuseUnknownFields(body, JOB_FIELDS);
  const plan = planJob(body, ctx.model);
  const limits = parseRunLimits(body);
  // Decided before the next await: of concurrent requests exactly one gets past here.
  if (ctx.trainingStarting || active(ctx.worker.job)) {
    throw new InputError("a training job is already running (one at a time)", 409);
  }
  ctx.trainingStarting = true;
  try {
    const runs = await listRuns(ctx);
    if (runs.length >= ctx.limits.maxRuns) {
      throw new InputError(
        `${runs.length} web training runs are kept (the limit is ${ctx.limits.maxRuns}): delete ` +
          "one first (GET /api/train/runs lists them; DELETE /api/train/runs/NAME)",
        409,
      );
    }
    const job = await ctx.worker.train({
      start: plan.start,
      base: plan.base,
      configSource: plan.configSource,
      note: plan.note,
      config: plan.config,
      recipe: plan.recipe,
      autoPrecision: plan.autoPrecision,
      logEvery: body.log_every === undefined ? undefined : limits.logEvery,
      maxSteps: limits.maxSteps,
      run: newRunName(runs),
    });
    return json(job, 202);
  } finally {
    ctx.trainingStarting = false;
  }
}

function events(ctx: AppContext): Response {
  const job = ctx.worker.job;
  return jobEvents(view(job), active(job), (event) =>
    ctx.worker.onTraining((name, j) => {
      if (name === "epoch") return;
      event(name === "end" ? "end" : "progress", name === "end" ? j : j.progress);
    }));
}

/** The last job, finished (done or stopped), whose checkpoint there is `toDo` something with. */
function finishedJob(ctx: AppContext, toDo: string): JobView {
  const job = ctx.worker.job;
  if (!job || (job.status !== "done" && job.status !== "stopped")) {
    throw new InputError(`no finished training job has a checkpoint ${toDo}`, 409);
  }
  return job;
}

export const trainRoutes: Route[] = [
  route("GET", "/api/train", (req, ctx) => {
    authorizeTraining(req, ctx);
    return Promise.resolve(json(view(ctx.worker.job)));
  }),
  route("POST", "/api/train", (req, ctx) => {
    authorizeTraining(req, ctx);
    return startJob(req, ctx);
  }),
  route("GET", "/api/train/events", (req, ctx) => {
    authorizeTraining(req, ctx);
    return Promise.resolve(events(ctx));
  }),
  route("DELETE", "/api/train", async (req, ctx) => {
    authorizeTraining(req, ctx);
    if (!active(ctx.worker.job)) throw new InputError("no training job is running", 409);
    return json(await ctx.worker.stopTraining());
  }),
  route("GET", "/api/train/recipe", (req, ctx) => {
    authorizeTraining(req, ctx);
    const query = queryObject(new URL(req.url));
    refuseUnknownFields(query, PLAN_FIELDS);
    return Promise.resolve(json(planView(planJob(query, ctx.model))));
  }),
  route("GET", "/api/train/preview.png", async (req, ctx) => {
    authorizeTraining(req, ctx);
    const job = finishedJob(ctx, "to preview");
    const q = queryObject(new URL(req.url));
    const options = samplingOptions(q);
    const perClass = numberField(q.per_class, "per_class", 4, {
      min: 1,
      max: ctx.limits.maxPerClass,
      integer: true,
    });
    const scale = numberField(q.scale, "scale", 4, {
      min: 1,
      max: ctx.limits.maxScale,
      integer: true,
    });
    const preview = await ctx.worker.preview(`${ctx.trainDir}/${job.checkpoint}`, job.checkpoint, {
      perClass,
      ...options,
    });
    const rows = preview.classNames.length;
    const size = Math.round(Math.sqrt(preview.sprites.length / (rows * perClass * 3)));
    const grid = spriteGrid(preview.sprites, rows, perClass, scale, {
      spriteHeight: size,
      spriteWidth: size,
    });
    return png(encodePng(grid.rgb, grid.width, grid.height), {
      "x-generation-ms": String(preview.ms),
      "x-classes": preview.classNames.join(","),
      "x-checkpoint": job.checkpoint,
    });
  }),
  route("POST", "/api/train/swap", async (req, ctx) => {
    authorizeTraining(req, ctx);
    const job = finishedJob(ctx, "to serve");
    const dir = `${ctx.trainDir}/${job.checkpoint}`;
    const before = ctx.servingDir;
    const swapped = await ctx.worker.swap(dir, job.checkpoint);
    ctx.previousDir = before;
    ctx.servingDir = swapped.dir;
    return json({ serving: swapped.model.source, previous: swapped.previous });
  }),
  route("POST", "/api/train/revert", async (req, ctx) => {
    authorizeTraining(req, ctx);
    const before = ctx.servingDir;
    const swapped = await ctx.worker.revert();
    ctx.previousDir = before;
    ctx.servingDir = swapped.dir;
    return json({ serving: swapped.model.source, previous: swapped.previous });
  }),
  route("GET", "/api/train/runs", async (req, ctx) => {
    authorizeTraining(req, ctx);
    return json({ runs: await listRuns(ctx), limit: ctx.limits.maxRuns });
  }),
  route("DELETE", "/api/train/runs/:name", async (req, ctx, m) => {
    authorizeTraining(req, ctx);
    let name = m.pathname.groups.name ?? "";
    try {
      name = decodeURIComponent(name);
    } catch { /* left as sent: it matches no run */ }
    const run = (await listRuns(ctx)).find((r) => r.name === name);
    if (!RUN_NAME.test(name) || !run) {
      throw new InputError(`no web training run named "${name.slice(0, 100)}"`, 404);
    }
    if (run.running) throw new InputError(`${name} is training: stop it first`, 409);
    if (run.serving) throw new InputError(`${name} is the serving model`, 409);
    if (run.previous) {
      throw new InputError(
        `${name} is the previous model (POST /api/train/revert serves it again): swap another ` +
          "checkpoint in first",
        409,
      );
    }
    await Deno.remove(`${ctx.trainDir}/${name}`, { recursive: true });
    return json({ deleted: name });
  }),
];
