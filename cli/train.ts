// `deno task train`: trains a model on the sprite set with the reference's recipe (every value a
// flag), writing <out>/checkpoint/ (atomically, every epoch, at the end and on Ctrl-C) and one JSON
// line per epoch to <out>/train_log.jsonl. `--resume <out>` continues a run where it stopped.
// Flags are translated into the engine's recipe parser (gpu/train/recipe.ts), the same one the
// training route uses, and the run is the engine's epoch loop (gpu/train/run.ts).
import { configFromSource } from "../data/model_source.ts";
import { loadSpriteModel, recoverCheckpointFolder } from "../data/model_folder.ts";
import { loadOptimizerState, readTrainingState, RunFolder } from "../data/run_folder.ts";
import { classIndices, type SpriteDataset } from "../data/sprites.ts";
import { dataSourceOf, loadTrainingSet } from "../data/training_set.ts";
import { InputError } from "../errors.ts";
import type { UNetConfig } from "../gpu/model/config.ts";
import { randomSpriteModel } from "../gpu/model/sprite_model.ts";
import { adapterLine, defaultPrecision, getGpu } from "../gpu/runtime/device.ts";
import {
  freezeNote,
  parseRecipe,
  parseResumedRecipe,
  parseRunLimits,
  RECIPE_FIELD_NAMES,
  REFERENCE_RECIPE,
  RESUMABLE_FIELD_NAMES,
  type TrainRecipe,
} from "../gpu/train/recipe.ts";
import { type EpochRecord, runTraining } from "../gpu/train/run.ts";
import {
  initialState,
  Trainer,
  TrainingDivergedError,
  type TrainingState,
} from "../gpu/train/trainer.ts";
import { flagFields, flagName, parseFlags } from "./args.ts";
import { ProgressLine } from "./progress.ts";

const R = REFERENCE_RECIPE;
const help = `usage: deno task train [flags]
  --config reference|compact|FILE.json   UNet config (default reference; a diffusers config.json)
  --batch ${R.batch}  --epochs ${R.epochs}  --lr ${R.lr}  --weight-decay ${R.weightDecay}
  --loss l1|mse (default ${R.loss})    noise-prediction loss
  --precision auto|f32|f16   f16: GEMM/conv operands in f16, f32 sums, dynamic loss scaling;
                     auto (default): the adapter's choice (f32 on every adapter measured)
  --lr-schedule constant|cosine (default ${R.lrSchedule})   cosine: from --lr down to 0 at the
                     last epoch (diffusers' cosine schedule)
  --warmup-steps ${R.warmupSteps}    linear learning-rate warm-up from 0 over N steps
  --ema-decay ${R.emaDecay}      keep an exponential moving average of the weights (diffusers' EMAModel,
                     warm-up power 3/4), decay at most this (e.g. 0.9999); 0: none. The checkpoint's
                     model is then the average, the trained weights stay beside it for --resume
  --sampling balanced|uniform (default ${R.sampling})   class-balanced draws as the reference,
                     or every sprite alike (the tutorial's first recipe)
  --dropout P        UNet dropout (default: the config's; reference ${R.dropout})
  --emb-dropout ${R.embDropout}  class-embedding dropout while it trains
  --freeze-epoch ${R.freezeEpoch}  the embedding trains before this epoch, then is frozen
  --mask-prob ${R.maskProb}   after the freeze, each class vector is zeroed with this probability
  --sprites FILE.npy --labels FILE.npy   dataset (default: the bundled procedural set)
  --names FILE       the labels' class names, one per line (default: FILE.names.txt beside
                     the labels if there is one, else the course set's five classes)
  --no-clean         keep the sprites the reference's cleaning rule removes
  --seed 0           weights, batches and noise; the same seed gives the same run
  --out DIR          run folder (default runs/run-<date>-<time>): DIR/checkpoint/, DIR/train_log.jsonl
  --resume DIR       continue the run in DIR (or DIR = its checkpoint folder); takes --epochs,
                     --lr (to anneal), --freeze-epoch, --log-every, --max-steps and --out; the
                     rest comes from the checkpoint
  --log-every 10     read the loss back every N steps
  --max-steps N      stop after N steps of this invocation (smoke tests); a checkpoint is written
Ctrl-C finishes the current step, writes a checkpoint and exits.`;

/** What a resume may still take: a new length and lr, and where and how long to run. */
const RESUME_FLAGS = [...RESUMABLE_FIELD_NAMES, "log_every", "max_steps", "out", "resume"].map((
  n,
) => flagName(n).slice(2));

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-` +
    `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

const parentOf = (path: string) => {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : trimmed.slice(0, i);
};

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

export async function trainCommand(argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    config: { type: "string" },
    batch: { type: "string" },
    epochs: { type: "string" },
    lr: { type: "string" },
    "weight-decay": { type: "string" },
    loss: { type: "string" },
    precision: { type: "string" },
    dropout: { type: "string" },
    "lr-schedule": { type: "string" },
    "warmup-steps": { type: "string" },
    "ema-decay": { type: "string" },
    sampling: { type: "string" },
    "emb-dropout": { type: "string" },
    "freeze-epoch": { type: "string" },
    "mask-prob": { type: "string" },
    sprites: { type: "string" },
    labels: { type: "string" },
    names: { type: "string" },
    "no-clean": { type: "boolean" },
    seed: { type: "string" },
    out: { type: "string" },
    resume: { type: "string" },
    "log-every": { type: "string" },
    "max-steps": { type: "string" },
    help: { type: "boolean" },
  }, "train");
  if (f.help) return console.log(help);
  const fields = flagFields(f, [...RECIPE_FIELD_NAMES, "log_every", "max_steps"]);
  const limits = parseRunLimits(fields, flagName);

  let recipe: TrainRecipe;
  let autoPrecision = false;
  let state: TrainingState = initialState();
  let config: UNetConfig | undefined;
  let store: RunFolder;
  let extra: Record<string, unknown>;
  let lastEpoch: EpochRecord | undefined;
  if (f.resume !== undefined) {
    const fixed = Object.keys(f).find((k) => !RESUME_FLAGS.includes(k));
    if (fixed) {
      throw new InputError(
        `--${fixed} cannot be changed on resume: the run continues with its recipe, data and ` +
          `config (only ${RESUME_FLAGS.slice(0, -1).map((k) => `--${k}`).join(", ")} apply)`,
      );
    }
    if (!(await isDir(f.resume))) throw new InputError(`--resume ${f.resume} does not exist`);
    // This run writes the folder from now on: a swap that a kill cut short is repaired first.
    const nested = `${f.resume.replace(/\/+$/, "")}/checkpoint`;
    await recoverCheckpointFolder(nested, { clean: true });
    const checkpointDir = (await isDir(nested)) ? nested : f.resume;
    if (checkpointDir === f.resume) await recoverCheckpointFolder(checkpointDir, { clean: true });
    store = new RunFolder(f.out ?? parentOf(checkpointDir), checkpointDir);
    const saved = await readTrainingState(checkpointDir);
    await store.completeLog(saved);
    lastEpoch = saved.lastEpoch as EpochRecord | undefined;
    // A new --lr is how a long run is annealed by hand; the log's per-epoch lr keeps the history.
    recipe = parseResumedRecipe(fields, saved.recipe, saved.state.epoch, flagName);
    state = saved.state;
    extra = saved.extra;
    if (state.epoch >= recipe.epochs) {
      throw new InputError(
        `${checkpointDir} has finished all ${recipe.epochs} epochs; pass --epochs N (> ` +
          `${state.epoch}) to train further`,
      );
    }
  } else {
    config = await configFromSource(f.config ?? "reference");
    const parsed = parseRecipe(fields, { ...R, dropout: config.dropout }, {
      nameOf: flagName,
      precisionDefaultsToAuto: true,
    });
    recipe = parsed.recipe;
    autoPrecision = parsed.autoPrecision;
    if ((f.sprites === undefined) !== (f.labels === undefined)) {
      throw new InputError("give both --sprites and --labels, or neither (the bundled set)");
    }
    if (f.names !== undefined && f.labels === undefined) {
      throw new InputError(
        "--names names the classes of --labels: give it with --sprites and --labels",
      );
    }
    store = new RunFolder(f.out ?? `runs/run-${stamp()}`);
    if (await isDir(store.checkpointDir)) {
      throw new InputError(
        `${store.checkpointDir} already exists: use --resume ${store.runDir} or another --out`,
      );
    }
    extra = {
      config_source: f.config ?? "reference",
      data: {
        sprites: f.sprites ?? null,
        labels: f.labels ?? null,
        ...(f.names !== undefined && { names: f.names }),
        clean: !f["no-clean"],
      },
    };
  }
  const { dataset, removed } = await loadTrainingSet(dataSourceOf(extra.data));
  if (config && dataset.height !== config.sample_size) {
    throw new InputError(
      `the sprites are ${dataset.height}x${dataset.width}, the config's sample_size is ` +
        `${config.sample_size}`,
    );
  }

  const gpu = await getGpu();
  console.error(adapterLine(gpu));
  if (autoPrecision) recipe = { ...recipe, precision: defaultPrecision(gpu) };
  const model = config
    ? randomSpriteModel(gpu, config, recipe.seed, dataset.classNames)
    : await loadSpriteModel(gpu, store.checkpointDir);
  const trainer = await Trainer.create(gpu, model, dataset, recipe, state);
  if (!config) await loadOptimizerState(trainer, store.checkpointDir);
  describeRun(trainer, dataset, removed, extra, store);
  const note = freezeNote(recipe, flagName);
  if (note) console.error(`note: ${note}`);
  await train(trainer, store, { ...limits, extra, lastEpoch });
}

function describeRun(
  t: Trainer,
  dataset: SpriteDataset,
  removed: number,
  extra: Record<string, unknown>,
  store: RunFolder,
): void {
  const counts = new Array(dataset.classNames.length).fill(0);
  for (const c of classIndices(dataset)) counts[c]++;
  const classes = dataset.classNames.map((n, i) => `${n} ${counts[i]}`).join(", ");
  const r = t.recipe;
  const params = t.model.unetParams.layout.count + t.model.embeddingParams!.layout.count;
  console.error(
    `data: ${dataset.count} sprites (${removed} removed by cleaning): ${classes}\n` +
      `model: ${extra.config_source} config, ${params.toLocaleString("en")} parameters\n` +
      `recipe: batch ${r.batch}, ${r.epochs} epoch(s) of ${t.stepsPerEpoch} steps, lr ${r.lr}` +
      `${r.lrSchedule === "cosine" ? " cosine" : ""}` +
      `${r.warmupSteps ? ` (warm-up ${r.warmupSteps} steps)` : ""}, ` +
      `${r.emaDecay ? `EMA ${r.emaDecay}, ` : ""}` +
      `${r.sampling === "uniform" ? "uniform sampling (no class balancing), " : ""}` +
      `weight decay ${r.weightDecay}, ${r.loss} loss, ${r.precision}, dropout ${r.dropout}/${r.embDropout}, ` +
      `embedding frozen from epoch ${r.freezeEpoch + 1}, mask ${r.maskProb}, seed ${r.seed}\n` +
      `checkpoint: ${store.checkpointDir}   log: ${store.logPath} (a line per finished epoch)` +
      (t.state.step ? `\nresuming at epoch ${t.state.epoch + 1}, step ${t.state.step}` : ""),
  );
}

async function train(
  trainer: Trainer,
  store: RunFolder,
  o: {
    logEvery: number;
    maxSteps?: number;
    extra: Record<string, unknown>;
    lastEpoch?: EpochRecord;
  },
): Promise<void> {
  const { state, recipe } = trainer;
  const stepLimit = o.maxSteps === undefined ? undefined : state.step + o.maxSteps;
  const total = Math.min(recipe.epochs * trainer.stepsPerEpoch, stepLimit ?? Infinity);
  const progress = new ProgressLine(total, recipe.epochs);
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    progress.note("Ctrl-C: finishing this step, then writing a checkpoint (again to quit now)");
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const outcome = await runTraining(trainer, store, {
      logEvery: o.logEvery,
      stepLimit,
      shouldStop: () => interrupted,
      extra: o.extra,
      lastEpoch: o.lastEpoch,
      onLog: (l) => progress.update(l),
      onEpoch: (r) =>
        progress.note(
          `epoch ${r.epoch}/${recipe.epochs}: loss ${r.mean_loss.toFixed(5)}, ` +
            `${r.seconds.toFixed(1)} s, ${r.it_per_s} it/s; checkpoint written`,
        ),
    });
    progress.note(
      outcome.status === "done"
        ? `done: ${recipe.epochs} epochs, ${state.step} steps; model in ${store.checkpointDir}`
        : `stopped at step ${state.step} (epoch ${state.epoch + 1}, step ${state.stepInEpoch}/` +
          `${trainer.stepsPerEpoch}); continue with --resume ${store.runDir}`,
    );
  } catch (e) {
    if (e instanceof TrainingDivergedError) {
      const saved = e.lastSaved
        ? `the last good checkpoint is ${store.checkpointDir} (epoch ${e.lastSaved.epoch}, step ` +
          `${e.lastSaved.step})`
        : "no checkpoint was written yet";
      throw new InputError(`training stopped: ${e.message}; ${saved}. Try a lower --lr.`);
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    progress.finish();
  }
}
