// Training jobs over HTTP, off unless the server runs with --allow-train: one job at a time (409
// otherwise), its state, a Server-Sent Events stream of its progress, a stop that writes a
// checkpoint, and swapping the serving model to that checkpoint. The job is gpu/trainer.ts's
// Trainer on the bundled set (cleaned), as `deno task train` runs it.
import { cleanDataset } from "../data/clean.ts";
import { BUNDLED_LABELS_PATH, BUNDLED_SPRITES_PATH } from "../data/generate.ts";
import { loadSpriteDataset } from "../data/sprites.ts";
import { InputError } from "../errors.ts";
import { defaultPrecision, type Gpu } from "../gpu/runtime/device.ts";
import { loadSpriteModel, randomSpriteModel } from "../gpu/model/sprite_model.ts";
import { saveTrainingCheckpoint } from "../gpu/train/checkpoint.ts";
import { REFERENCE_RECIPE, Trainer, type TrainRecipe } from "../gpu/train/trainer.ts";
import { presetConfig } from "../gpu/model/presets.ts";
import type { AppContext } from "./context.ts";
import { json, numberField, readJsonObject, type Route, route } from "./http.ts";

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

function recipeFrom(
  body: Record<string, unknown>,
  gpu: Gpu,
): { recipe: TrainRecipe; maxSteps?: number } {
  const R = REFERENCE_RECIPE;
  const precision = body.precision ?? "auto";
  if (precision !== "auto" && precision !== "f32" && precision !== "f16") {
    throw new InputError(`precision must be "auto", "f32" or "f16"`);
  }
  const int = (name: string, fallback: number, max: number) =>
    numberField(body[name], name, fallback, { min: 1, max, integer: true });
  const loss = body.loss ?? R.loss;
  if (loss !== "l1" && loss !== "mse") throw new InputError(`loss must be "l1" or "mse"`);
  const recipe: TrainRecipe = {
    ...R,
    batch: int("batch", R.batch, 4096),
    epochs: int("epochs", R.epochs, 100000),
    lr: numberField(body.lr, "lr", R.lr, { min: 1e-8, max: 1 }),
    loss,
    freezeEpoch: numberField(body.freeze_epoch, "freeze_epoch", R.freezeEpoch, {
      min: 0,
      max: 100000,
      integer: true,
    }),
    seed: numberField(body.seed, "seed", R.seed, { min: 0, max: 2 ** 32 - 1, integer: true }),
    precision: precision === "auto" ? defaultPrecision(gpu) : precision,
  };
  const maxSteps = body.max_steps === undefined ? undefined : int("max_steps", 0, 1e9);
  return { recipe, maxSteps };
}

async function startJob(ctx: AppContext, body: Record<string, unknown>): Promise<Job> {
  const known = [
    ...["config", "batch", "epochs", "lr", "loss", "precision", "freeze_epoch", "seed"],
    "max_steps",
  ];
  const unknown = Object.keys(body).filter((k) => !known.includes(k));
  if (unknown.length) throw new InputError(`unknown field ${unknown.join(", ")}; known: ${known}`);
  const { recipe, maxSteps } = recipeFrom(body, ctx.gpu);
  // The serving model's config unless a preset is named.
  const config = body.config === undefined ? ctx.model.config : presetConfig(String(body.config));
  const files = { sprites: BUNDLED_SPRITES_PATH, labels: BUNDLED_LABELS_PATH };
  const { dataset } = cleanDataset(await loadSpriteDataset(files.sprites, files.labels));
  const model = randomSpriteModel(ctx.gpu, config, recipe.seed, dataset.classNames);
  model.info = { ...model.info, data: files };
  const trainer = await Trainer.create(ctx.gpu, model, dataset, recipe);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  const checkpoint = `${ctx.trainDir}/web-run-${stamp}/checkpoint`;
  const totalSteps = Math.min(recipe.epochs * trainer.stepsPerEpoch, maxSteps ?? Infinity);
  const job: Job = {
    status: "running",
    recipe,
    checkpoint,
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
  job.finished = (async () => {
    try {
      while (!trainer.done && !job.stop && trainer.state.step < totalSteps) {
        await trainer.runEpoch({
          logEvery: Math.max(1, Math.min(10, Math.floor(trainer.stepsPerEpoch / 4))),
          stepLimit: totalSteps,
          shouldStop: () => job.stop,
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
        });
        job.progress.epoch = trainer.state.epoch;
      }
      await saveTrainingCheckpoint(ctx.gpu, checkpoint, trainer, { data: files });
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
