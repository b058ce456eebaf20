// `deno task train`: trains a model on the sprite set with the reference's recipe (every value a
// flag), writing <out>/checkpoint/ (atomically, every epoch, at the end and on Ctrl-C) and one JSON
// line per epoch to <out>/train_log.jsonl. `--resume <out>` continues a run where it stopped.
import { cleanDataset } from "../data/clean.ts";
import { BUNDLED_LABELS_PATH, BUNDLED_SPRITES_PATH } from "../data/generate.ts";
import { classIndices, loadSpriteDataset, type SpriteDataset } from "../data/sprites.ts";
import { InputError } from "../errors.ts";
import { adapterLine, defaultPrecision, getGpu } from "../gpu/runtime/device.ts";
import { loadSpriteModel, randomSpriteModel } from "../gpu/model/sprite_model.ts";
import {
  loadOptimizerState,
  readTrainingState,
  saveTrainingCheckpoint,
} from "../gpu/train/checkpoint.ts";
import {
  initialState,
  REFERENCE_RECIPE,
  Trainer,
  TrainingDivergedError,
  type TrainingState,
  type TrainRecipe,
} from "../gpu/train/trainer.ts";
import type { UNetConfig } from "../gpu/model/config.ts";
import { numberFlag, parseFlags, precisionFlag } from "./args.ts";
import { configFromSource } from "../data/model_source.ts";
import { ProgressLine } from "./progress.ts";

const R = REFERENCE_RECIPE;
const help = `usage: deno task train [flags]
  --config reference|compact|FILE.json   UNet config (default reference; a diffusers config.json)
  --batch ${R.batch}  --epochs ${R.epochs}  --lr ${R.lr}  --weight-decay ${R.weightDecay}
  --loss l1|mse (default ${R.loss})    noise-prediction loss
  --precision auto|f32|f16   f16: GEMM/conv operands in f16, f32 sums, dynamic loss scaling;
                     auto (default): the adapter's choice (f32 on every adapter measured)
  --dropout P        UNet dropout (default: the config's; reference ${R.dropout})
  --emb-dropout ${R.embDropout}  class-embedding dropout while it trains
  --freeze-epoch ${R.freezeEpoch}  the embedding trains before this epoch, then is frozen
  --mask-prob ${R.maskProb}   after the freeze, each class vector is zeroed with this probability
  --sprites FILE.npy --labels FILE.npy   dataset (default: the bundled procedural set)
  --no-clean         keep the sprites the reference's cleaning rule removes
  --seed 0           weights, batches and noise; the same seed gives the same run
  --out DIR          run folder (default models/run-<date>-<time>): DIR/checkpoint/, DIR/train_log.jsonl
  --resume DIR       continue the run in DIR (or DIR = its checkpoint folder); takes --epochs,
                     --lr (to anneal), --log-every, --max-steps and --out; the rest comes from
                     the checkpoint
  --log-every 10     read the loss back every N steps
  --max-steps N      stop after N steps of this invocation (smoke tests); a checkpoint is written
Ctrl-C finishes the current step, writes a checkpoint and exits.`;

const RESUMABLE_FLAGS = new Set(["epochs", "lr", "log-every", "max-steps", "out", "resume"]);

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

interface DataSource {
  sprites: string | null;
  labels: string | null;
  clean: boolean;
}

/** The dataset a run recorded; a checkpoint without the record trained on the bundled set. */
function dataSource(value: unknown): DataSource {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const path = (p: unknown) => (typeof p === "string" ? p : null);
  return { sprites: path(v.sprites), labels: path(v.labels), clean: v.clean !== false };
}

async function loadData(src: DataSource): Promise<{ dataset: SpriteDataset; removed: number }> {
  const raw = await loadSpriteDataset(
    src.sprites ?? BUNDLED_SPRITES_PATH,
    src.labels ?? BUNDLED_LABELS_PATH,
  );
  if (!src.clean) return { dataset: raw, removed: 0 };
  const { dataset, removed } = cleanDataset(raw);
  if (dataset.count === 0) throw new InputError("the cleaning rule removed every sprite");
  return { dataset, removed: removed.length };
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
    "emb-dropout": { type: "string" },
    "freeze-epoch": { type: "string" },
    "mask-prob": { type: "string" },
    sprites: { type: "string" },
    labels: { type: "string" },
    "no-clean": { type: "boolean" },
    seed: { type: "string" },
    out: { type: "string" },
    resume: { type: "string" },
    "log-every": { type: "string" },
    "max-steps": { type: "string" },
    help: { type: "boolean" },
  }, "train");
  if (f.help) return console.log(help);
  const int = { integer: true };
  const epochsFlag = f.epochs === undefined
    ? undefined
    : numberFlag(f.epochs, "epochs", 0, { min: 1, max: 1e6, ...int });
  const logEvery = numberFlag(f["log-every"], "log-every", 10, { min: 1, max: 1e6, ...int });
  const maxSteps = f["max-steps"] === undefined
    ? undefined
    : numberFlag(f["max-steps"], "max-steps", 0, { min: 1, max: 1e9, ...int });

  let recipe: TrainRecipe;
  let state: TrainingState = initialState();
  let config: UNetConfig | undefined;
  let checkpointDir: string;
  let runDir: string;
  let extra: Record<string, unknown>;
  let autoPrecision = false;
  if (f.resume !== undefined) {
    const fixed = Object.keys(f).filter((k) => !RESUMABLE_FLAGS.has(k));
    if (fixed.length) {
      throw new InputError(
        `--${fixed[0]} cannot be changed on --resume: the run continues with its recipe ` +
          "(only --epochs, --lr, --log-every, --max-steps and --out apply)",
      );
    }
    if (!(await isDir(f.resume))) throw new InputError(`--resume ${f.resume} does not exist`);
    const nested = `${f.resume.replace(/\/+$/, "")}/checkpoint`;
    checkpointDir = (await isDir(nested)) ? nested : f.resume;
    runDir = f.out ?? parentOf(checkpointDir);
    const saved = await readTrainingState(checkpointDir);
    // A new --lr is how a long run is annealed by hand; the log's per-epoch lr keeps the history.
    const lr = numberFlag(f.lr, "lr", saved.recipe.lr, { min: 0, max: 10 });
    if (lr === 0) throw new InputError("--lr must be positive");
    recipe = { ...saved.recipe, epochs: epochsFlag ?? saved.recipe.epochs, lr };
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
    const loss = f.loss ?? R.loss;
    if (loss !== "l1" && loss !== "mse") {
      throw new InputError(`--loss must be l1 or mse, got "${loss}"`);
    }
    const lr = numberFlag(f.lr, "lr", R.lr, { min: 0, max: 10 });
    if (lr === 0) throw new InputError("--lr must be positive");
    const precision = precisionFlag(f.precision, ["auto", "f32", "f16"] as const, "auto");
    autoPrecision = precision === "auto";
    const p = { min: 0, max: 0.99 };
    recipe = {
      batch: numberFlag(f.batch, "batch", R.batch, { min: 1, max: 65536, ...int }),
      epochs: epochsFlag ?? R.epochs,
      lr,
      weightDecay: numberFlag(f["weight-decay"], "weight-decay", R.weightDecay, { min: 0, max: 1 }),
      loss,
      dropout: numberFlag(f.dropout, "dropout", config.dropout, p),
      embDropout: numberFlag(f["emb-dropout"], "emb-dropout", R.embDropout, p),
      freezeEpoch: numberFlag(f["freeze-epoch"], "freeze-epoch", R.freezeEpoch, {
        min: 0,
        max: 1e6,
        ...int,
      }),
      maskProb: numberFlag(f["mask-prob"], "mask-prob", R.maskProb, { min: 0, max: 1 }),
      seed: numberFlag(f.seed, "seed", R.seed, { min: 0, max: 2 ** 32 - 1, ...int }),
      precision: precision === "auto" ? R.precision : precision,
    };
    if ((f.sprites === undefined) !== (f.labels === undefined)) {
      throw new InputError("give both --sprites and --labels, or neither (the bundled set)");
    }
    runDir = f.out ?? `models/run-${stamp()}`;
    checkpointDir = `${runDir.replace(/\/+$/, "")}/checkpoint`;
    if (await isDir(checkpointDir)) {
      throw new InputError(
        `${checkpointDir} already exists: use --resume ${runDir} or another --out`,
      );
    }
    extra = {
      config_source: f.config ?? "reference",
      data: { sprites: f.sprites ?? null, labels: f.labels ?? null, clean: !f["no-clean"] },
    };
  }
  const { dataset, removed } = await loadData(dataSource(extra.data));
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
    : await loadSpriteModel(gpu, checkpointDir);
  const trainer = await Trainer.create(gpu, model, dataset, recipe, state);
  if (!config) await loadOptimizerState(trainer, checkpointDir);
  describeRun(trainer, dataset, removed, extra, checkpointDir, runDir);
  await Deno.mkdir(runDir, { recursive: true });
  await trainLoop(trainer, { logEvery, maxSteps, checkpointDir, runDir, extra });
}

function describeRun(
  t: Trainer,
  dataset: SpriteDataset,
  removed: number,
  extra: Record<string, unknown>,
  checkpointDir: string,
  runDir: string,
): void {
  const counts = new Array(dataset.classNames.length).fill(0);
  for (const c of classIndices(dataset)) counts[c]++;
  const classes = dataset.classNames.map((n, i) => `${n} ${counts[i]}`).join(", ");
  const r = t.recipe;
  const params = t.model.unetParams.layout.count + t.model.embeddingParams!.layout.count;
  console.error(
    `data: ${dataset.count} sprites (${removed} removed by cleaning): ${classes}\n` +
      `model: ${extra.config_source} config, ${params.toLocaleString("en")} parameters\n` +
      `recipe: batch ${r.batch}, ${r.epochs} epoch(s) of ${t.stepsPerEpoch} steps, lr ${r.lr}, ` +
      `weight decay ${r.weightDecay}, ${r.loss} loss, ${r.precision}, dropout ${r.dropout}/${r.embDropout}, ` +
      `embedding frozen from epoch ${r.freezeEpoch + 1}, mask ${r.maskProb}, seed ${r.seed}\n` +
      `checkpoint: ${checkpointDir}   log: ${runDir}/train_log.jsonl` +
      (t.state.step ? `\nresuming at epoch ${t.state.epoch + 1}, step ${t.state.step}` : ""),
  );
}

async function trainLoop(
  trainer: Trainer,
  o: {
    logEvery: number;
    maxSteps?: number;
    checkpointDir: string;
    runDir: string;
    extra: Record<string, unknown>;
  },
): Promise<void> {
  const { state, recipe, gpu } = trainer;
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
  const describeSaved = () =>
    `the last good checkpoint is ${o.checkpointDir} (epoch ${state.epoch}, step ${state.step})`;
  let saved = state.step ? describeSaved() : "no checkpoint was written yet";
  const save = async () => {
    await saveTrainingCheckpoint(gpu, o.checkpointDir, trainer, o.extra);
    saved = describeSaved();
  };
  try {
    while (!trainer.done) {
      const epoch = state.epoch;
      const result = await trainer.runEpoch({
        logEvery: o.logEvery,
        stepLimit,
        shouldStop: () => interrupted,
        onLog: (l) => progress.update(l),
      });
      if (result.finished) {
        const line = {
          epoch: epoch + 1,
          mean_loss: result.meanLoss,
          seconds: Number(result.seconds.toFixed(3)),
          it_per_s: Number((result.steps / result.seconds).toFixed(3)),
          step: state.step,
          lr: recipe.lr,
          ...(state.lossScale && {
            loss_scale: state.lossScale.scale,
            skipped_steps: state.lossScale.skipped,
          }),
          embedding_frozen: epoch >= recipe.freezeEpoch,
        };
        await Deno.writeTextFile(`${o.runDir}/train_log.jsonl`, JSON.stringify(line) + "\n", {
          append: true,
        });
        await save();
        progress.note(
          `epoch ${epoch + 1}/${recipe.epochs}: loss ${result.meanLoss.toFixed(5)}, ` +
            `${result.seconds.toFixed(1)} s, ${line.it_per_s} it/s; checkpoint written`,
        );
      }
      if (!result.finished || interrupted) {
        if (state.stepInEpoch > 0) await save();
        progress.note(
          `stopped at step ${state.step} (epoch ${state.epoch + 1}, step ${state.stepInEpoch}/` +
            `${trainer.stepsPerEpoch}); continue with --resume ${o.runDir}`,
        );
        return;
      }
    }
    progress.note(
      `done: ${recipe.epochs} epochs, ${state.step} steps; model in ${o.checkpointDir}`,
    );
  } catch (e) {
    if (e instanceof TrainingDivergedError) {
      throw new InputError(`training stopped: ${e.message}; ${saved}. Try a lower --lr.`);
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    progress.finish();
  }
}
