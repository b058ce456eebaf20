// Training jobs over HTTP, off unless the server runs with --allow-train: one job at a time (409
// otherwise), its state, a Server-Sent Events stream of its progress, a stop that writes a
// checkpoint, and swapping the serving model to that checkpoint. The job is the engine's epoch loop
// (gpu/train/run.ts) on the bundled set (cleaned), with the same recipe parser and limits as
// `deno task train`, writing <trainDir>/web-run-<time>/checkpoint/ every epoch and train_log.jsonl.
import { RunFolder } from "../data/run_folder.ts";
import { loadTrainingSet } from "../data/training_set.ts";
import { loadSpriteModel } from "../data/model_folder.ts";
import { InputError } from "../errors.ts";
import { presetConfig } from "../gpu/model/presets.ts";
import { randomSpriteModel } from "../gpu/model/sprite_model.ts";
import { defaultPrecision } from "../gpu/runtime/device.ts";
import { refuseUnknownFields } from "../gpu/runtime/fields.ts";
import {
  parseRecipe,
  parseRunLimits,
  RECIPE_FIELD_NAMES,
  REFERENCE_RECIPE,
  RUN_LIMIT_NAMES,
  type TrainRecipe,
} from "../gpu/train/recipe.ts";
import { runTraining } from "../gpu/train/run.ts";
import { Trainer } from "../gpu/train/trainer.ts";
import type { AppContext } from "./context.ts";
import { json, readJsonObject, type Route, route } from "./http.ts";

export interface Progress {
  step: number;
  epoch: number;
  stepsPerEpoch: number;
  totalSteps: number;
  loss: number | null;
  itPerSec: number | null;
  etaSeconds: number | null;
}

interface Job {
  status: "running" | "stopping" | "done" | "stopped" | "failed";
  recipe: TrainRecipe;
  checkpoint: string;
  progress: Progress;
  losses: { step: number; loss: number }[];
  error?: string;
  stop: boolean;
  listeners: Set<(event: string, data: unknown) => void>;
  finished: Promise<void>;
}

// One job per app context (the tests run several apps in one process).
const jobs = new WeakMap<AppContext, Job>();

function authorize(req: Request, ctx: AppContext): void {
  if (!ctx.allowTrain) {
    throw new InputError("training is off: start the server with --allow-train", 403);
  }
  if (!ctx.token) return;
  const header = req.headers.get("authorization") ?? "";
  const query = new URL(req.url).searchParams.get("token");
  if (header !== `Bearer ${ctx.token}` && query !== ctx.token) {
    throw new InputError("training needs the server's token (Authorization: Bearer TOKEN)", 401);
  }
}

function view(job: Job | undefined) {
  if (!job) return { status: "idle" };
  const { status, recipe, checkpoint, progress, losses, error } = job;
  return { status, recipe, checkpoint, progress, losses, error: error ?? null };
}

function emit(job: Job, event: string, data: unknown) {
  for (const l of job.listeners) l(event, data);
}

/** The fields a job request may hold: the recipe's, the preset, and the run's limits. */
const JOB_FIELDS = ["config", ...RECIPE_FIELD_NAMES, ...RUN_LIMIT_NAMES];

async function startJob(ctx: AppContext, body: Record<string, unknown>): Promise<Job> {
  refuseUnknownFields(body, JOB_FIELDS);
  // The serving model's config unless a preset is named.
  const config = body.config === undefined ? ctx.model.config : presetConfig(String(body.config));
  const parsed = parseRecipe(body, { ...REFERENCE_RECIPE, dropout: config.dropout }, {
    precisionDefaultsToAuto: true,
  });
  const recipe = parsed.autoPrecision
    ? { ...parsed.recipe, precision: defaultPrecision(ctx.gpu) }
    : parsed.recipe;
  const limits = parseRunLimits(body);
  const source = { sprites: null, labels: null, clean: true };
  const { dataset } = await loadTrainingSet(source);
  const model = randomSpriteModel(ctx.gpu, config, recipe.seed, dataset.classNames);
  model.info = { ...model.info, data: source };
  const trainer = await Trainer.create(ctx.gpu, model, dataset, recipe);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  const store = new RunFolder(`${ctx.trainDir}/web-run-${stamp}`);
  const totalSteps = Math.min(recipe.epochs * trainer.stepsPerEpoch, limits.maxSteps ?? Infinity);
  const job: Job = {
    status: "running",
    recipe,
    checkpoint: store.checkpointDir,
    progress: {
      step: 0,
      epoch: 0,
      stepsPerEpoch: trainer.stepsPerEpoch,
      totalSteps,
      loss: null,
      itPerSec: null,
      etaSeconds: null,
    },
    losses: [],
    stop: false,
    listeners: new Set(),
    finished: Promise.resolve(),
  };
  const logEvery = body.log_every === undefined
    ? Math.max(1, Math.min(10, Math.floor(trainer.stepsPerEpoch / 4)))
    : limits.logEvery;
  job.finished = (async () => {
    try {
      await runTraining(trainer, store, {
        logEvery,
        stepLimit: totalSteps,
        shouldStop: () => job.stop,
        extra: { data: source },
        onLog: (l) => {
          job.progress = {
            ...job.progress,
            step: l.step,
            epoch: l.epoch,
            loss: l.loss,
            itPerSec: l.itPerSec,
            etaSeconds: (totalSteps - l.step) / l.itPerSec,
          };
          job.losses.push({ step: l.step, loss: l.loss });
          emit(job, "progress", job.progress);
        },
        onEpoch: () => job.progress.epoch = trainer.state.epoch,
      });
      // A step limit reached is the job's end; only a DELETE stops it.
      job.status = job.stop ? "stopped" : "done";
    } catch (e) {
      job.status = "failed";
      job.error = (e as Error).message;
      console.error("training job failed:", e);
    }
    emit(job, "end", view(job));
  })();
  return job;
}

function events(job: Job | undefined): Response {
  const encoder = new TextEncoder();
  let close = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (event: string, data: unknown) =>
        controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
      send("state", view(job));
      if (!job || job.status !== "running" && job.status !== "stopping") {
        send("end", view(job));
        return controller.close();
      }
      const listener = (event: string, data: unknown) => {
        send(event, data);
        if (event === "end") close();
      };
      close = () => {
        job.listeners.delete(listener);
        try {
          controller.close();
        } catch { /* the client went away first */ }
      };
      job.listeners.add(listener);
    },
    cancel() {
      close();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

export const trainRoutes: Route[] = [
  route("GET", "/api/train", (req, ctx) => {
    authorize(req, ctx);
    return Promise.resolve(json(view(jobs.get(ctx))));
  }),
  route("POST", "/api/train", async (req, ctx) => {
    authorize(req, ctx);
    const current = jobs.get(ctx);
    if (current && (current.status === "running" || current.status === "stopping")) {
      throw new InputError("a training job is already running (one at a time)", 409);
    }
    const body = await readJsonObject(req, ctx.limits.maxBodyBytes);
    const job = await startJob(ctx, body);
    jobs.set(ctx, job);
    ctx.onClose.push(async () => {
      job.stop = true;
      await job.finished;
    });
    return json(view(job), 202);
  }),
  route("GET", "/api/train/events", (req, ctx) => {
    authorize(req, ctx);
    return Promise.resolve(events(jobs.get(ctx)));
  }),
  route("DELETE", "/api/train", async (req, ctx) => {
    authorize(req, ctx);
    const job = jobs.get(ctx);
    if (!job || (job.status !== "running" && job.status !== "stopping")) {
      throw new InputError("no training job is running", 409);
    }
    job.stop = true;
    job.status = "stopping";
    await job.finished;
    return json(view(job));
  }),
  route("POST", "/api/train/swap", async (req, ctx) => {
    authorize(req, ctx);
    const job = jobs.get(ctx);
    if (!job || (job.status !== "done" && job.status !== "stopped")) {
      throw new InputError("no finished training job has a checkpoint to serve", 409);
    }
    ctx.swapModel(await loadSpriteModel(ctx.gpu, job.checkpoint), job.checkpoint);
    return json({ serving: job.checkpoint });
  }),
];
