// What a web training job runs, decided before it starts and shown as it runs. By default it
// fine-tunes the served model: the served checkpoint's own recipe (batch, dropouts, seed, ...) with
// a tenth of its learning rate at a constant rate (no warm-up, no EMA), one epoch, and the embedding kept frozen from the first step (so
// the 5 % class masking that guidance needs goes on, and the class embedding is not retrained from
// a few steps). "From scratch" is asked for explicitly, with a preset: `compact` with the recipe the
// shipped model started from on a CPU adapter (README: batch 32, lr 1e-3, 24 epochs, frozen after
// 16, seed 1), `reference` with the reference's. Any recipe field in the request overrides either,
// through the same parser and limits as `deno task train` (gpu/train/recipe.ts).
import type { UNetConfig } from "../gpu/model/config.ts";
import { presetConfig } from "../gpu/model/presets.ts";
import { RequestError } from "../gpu/runtime/errors.ts";
import { choiceField } from "../gpu/runtime/fields.ts";
import {
  freezeNote,
  parseRecipe,
  parseSavedRecipe,
  REFERENCE_RECIPE,
  type TrainRecipe,
} from "../gpu/train/recipe.ts";
import type { ServingModel } from "./gpu_protocol.ts";

export type JobStart = "serving" | "scratch";

/** What each preset changes in the reference recipe when a model is trained from scratch. */
export const SCRATCH_RECIPES: Readonly<Record<string, Partial<TrainRecipe>>> = {
  compact: { batch: 32, lr: 1e-3, epochs: 24, freezeEpoch: 16, seed: 1 },
  reference: {},
};

/** A fine-tune's learning rate: this fraction of the rate the served model last trained at. */
export const FINE_TUNE_LR_FACTOR = 0.1;

export interface JobPlan {
  start: JobStart;
  /** What the job starts from, as shown: the served model's name, or a preset's random init. */
  base: string;
  /** The UNet config: the served model's, or the preset's. */
  config: UNetConfig;
  /** Where the config came from, as a run records it ("compact", "sprite-compact (served)"). */
  configSource: string;
  recipe: TrainRecipe;
  /** `precision: "auto"` (the default): the worker picks the adapter's choice. */
  autoPrecision: boolean;
  /** A word about the recipe (an embedding that never freezes), or null. */
  note: string | null;
}

/** The recipe the served model was trained with (its checkpoint's), when it records one. */
function servedRecipe(model: ServingModel): TrainRecipe | undefined {
  const saved = model.info.recipe;
  if (typeof saved !== "object" || saved === null || Array.isArray(saved)) return undefined;
  try {
    return parseSavedRecipe(saved as Record<string, unknown>, "the served model's recipe");
  } catch {
    return undefined; // an older or foreign record: the preset's recipe instead
  }
}

function scratchRecipe(preset: string, config: UNetConfig): TrainRecipe {
  return { ...REFERENCE_RECIPE, dropout: config.dropout, ...SCRATCH_RECIPES[preset] };
}

/**
 * The job a request asks for (a JSON body or a query string): `start` ("serving" or "scratch"),
 * `config` (a preset, for "scratch" only: default compact) and any recipe field. Without `start`,
 * a `config` means "scratch" (a preset names a new model, as it always has), else "serving".
 * Throws RequestError (ConfigError for an unknown preset) naming the field.
 */
export function planJob(fields: Record<string, unknown>, model: ServingModel): JobPlan {
  const hasConfig = fields.config !== undefined && fields.config !== "";
  const start = choiceField(
    fields.start,
    "start",
    ["serving", "scratch"] as const,
    hasConfig ? "scratch" : "serving",
  );
  let base: string;
  let config: UNetConfig;
  let configSource: string;
  let recipe: TrainRecipe;
  if (start === "serving") {
    if (hasConfig) {
      throw new RequestError(
        'config goes with start "scratch": a fine-tune keeps the served model\'s config',
      );
    }
    config = model.config;
    base = model.source;
    configSource = `${model.source} (served)`;
    const own = servedRecipe(model) ?? scratchRecipe("compact", config);
    const lr = Number((own.lr * FINE_TUNE_LR_FACTOR).toPrecision(6));
    // One short epoch at a constant rate: the served run's warm-up and cosine belong to its own
    // length, and an average over one epoch's steps would be mostly the starting weights.
    recipe = {
      ...own,
      lr,
      epochs: 1,
      freezeEpoch: 0,
      lrSchedule: "constant",
      warmupSteps: 0,
      emaDecay: 0,
    };
  } else {
    const preset = hasConfig ? String(fields.config) : "compact";
    config = presetConfig(preset); // its own refusal: `unknown config preset "x": use ...`
    base = `${preset} preset, random init`;
    configSource = preset;
    recipe = scratchRecipe(preset, config);
  }
  const parsed = parseRecipe(fields, recipe, { precisionDefaultsToAuto: true });
  return {
    start,
    base,
    config,
    configSource,
    recipe: parsed.recipe,
    autoPrecision: parsed.autoPrecision,
    note: freezeNote(parsed.recipe) ?? null,
  };
}

/** The plan as a client sees it (GET /api/train/recipe, and each job's view). */
export function planView(plan: JobPlan) {
  return {
    start: plan.start,
    base: plan.base,
    config: plan.configSource,
    recipe: plan.recipe,
    precision: plan.autoPrecision ? "auto" : plan.recipe.precision,
    note: plan.note,
  };
}
