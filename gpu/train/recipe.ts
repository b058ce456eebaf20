// The training recipe: every value of it, the reference's defaults, and the one parser with the
// one set of limits that `deno task train`'s flags, the training route's JSON and a checkpoint's
// training_state.json all go through. Fields are spelled snake_case in requests (`weight_decay`;
// the CLI's `--weight-decay` is the same field) and camelCase in the saved recipe.
import type { Precision } from "../runtime/device.ts";
import { RequestError } from "../runtime/errors.ts";
import { choiceField, listOf, numberField, type NumberRule } from "../runtime/fields.ts";

/** Every value of the training recipe; REFERENCE_RECIPE holds the reference's. */
export interface TrainRecipe {
  batch: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  loss: "l1" | "mse";
  /** The UNet's dropout (diffusers' config.dropout). */
  dropout: number;
  /** Dropout inside the class-embedding net while it trains. */
  embDropout: number;
  /** The embedding net trains in epochs [0, freezeEpoch) and is frozen from then on. */
  freezeEpoch: number;
  /** After the freeze: probability that a sample's class vector is zeroed. */
  maskProb: number;
  /** Seeds the initial weights, the batch sampler and the GPU's random numbers. */
  seed: number;
  /** "f16": mixed precision (f16 GEMM/conv operands, dynamic loss scaling); "f32" otherwise. */
  precision: Precision;
  /** "cosine": lr * (1 + cos(pi * progress)) / 2 after the warm-up (diffusers' cosine schedule). */
  lrSchedule: "constant" | "cosine";
  /** Steps of linear learning-rate warm-up from 0 (diffusers' lr_warmup_steps). */
  warmupSteps: number;
  /**
   * Largest decay of an exponential moving average of the weights (diffusers' EMAModel with its
   * warm-up, gpu/train/ema.ts); 0: no EMA. With EMA the checkpoint's model is the averaged one.
   */
  emaDecay: number;
  /** "balanced": the reference's class-balanced draws; "uniform": every sprite alike. */
  sampling: "balanced" | "uniform";
}

export const REFERENCE_RECIPE: TrainRecipe = {
  batch: 128,
  epochs: 100,
  lr: 1e-4,
  weightDecay: 1e-4,
  loss: "l1",
  dropout: 0.2,
  embDropout: 0.1,
  freezeEpoch: 80,
  maskProb: 0.05,
  seed: 0,
  precision: "f32",
  lrSchedule: "constant",
  warmupSteps: 0,
  emaDecay: 0,
  sampling: "balanced",
};

/** Fields added after checkpoints were first written: a saved recipe without them has these. */
const SAVED_DEFAULTS: Partial<Record<keyof TrainRecipe, unknown>> = {
  precision: "f32",
  lrSchedule: "constant",
  warmupSteps: 0,
  emaDecay: 0,
  sampling: "balanced",
};

/**
 * `max` bounds a request; `savedMax` (default unbounded) bounds a saved recipe, which an older
 * version or a program may have written with wider limits and must still resume.
 */
type Rule = NumberRule & { positive?: boolean; savedMax?: number } | {
  choices: readonly string[];
};

const probability = { min: 0, max: 0.99, savedMax: 0.999999 };

/** The fields in the order help texts list them, with their request names and limits. */
export const RECIPE_FIELDS: readonly { key: keyof TrainRecipe; name: string; rule: Rule }[] = [
  { key: "batch", name: "batch", rule: { min: 1, max: 4096, integer: true } },
  { key: "epochs", name: "epochs", rule: { min: 1, max: 1e6, integer: true } },
  { key: "lr", name: "lr", rule: { min: 0, max: 10, positive: true } },
  { key: "weightDecay", name: "weight_decay", rule: { min: 0, max: 1 } },
  { key: "loss", name: "loss", rule: { choices: ["l1", "mse"] } },
  { key: "dropout", name: "dropout", rule: probability },
  { key: "embDropout", name: "emb_dropout", rule: probability },
  { key: "freezeEpoch", name: "freeze_epoch", rule: { min: 0, max: 1e6, integer: true } },
  { key: "maskProb", name: "mask_prob", rule: { min: 0, max: 1, savedMax: 1 } },
  {
    key: "seed",
    name: "seed",
    rule: { min: 0, max: 2 ** 32 - 1, integer: true, savedMax: 2 ** 32 - 1 },
  },
  { key: "precision", name: "precision", rule: { choices: ["auto", "f32", "f16"] } },
  { key: "lrSchedule", name: "lr_schedule", rule: { choices: ["constant", "cosine"] } },
  { key: "warmupSteps", name: "warmup_steps", rule: { min: 0, max: 1e9, integer: true } },
  { key: "emaDecay", name: "ema_decay", rule: { min: 0, max: 0.99999, savedMax: 0.99999 } },
  { key: "sampling", name: "sampling", rule: { choices: ["balanced", "uniform"] } },
];

/** The request names of the recipe's fields. */
export const RECIPE_FIELD_NAMES = RECIPE_FIELDS.map((f) => f.name);

/**
 * What a resumed run may change: a new length, a new lr to anneal by hand, and when the embedding
 * freezes (a longer or shorter run moves it; it never unfreezes an embedding already frozen).
 */
export const RESUMABLE_FIELDS: readonly (keyof TrainRecipe)[] = ["epochs", "lr", "freezeEpoch"];
export const RESUMABLE_FIELD_NAMES = RECIPE_FIELDS.filter((f) => RESUMABLE_FIELDS.includes(f.key))
  .map((f) => f.name);

export interface ParsedRecipe {
  recipe: TrainRecipe;
  /** `precision: "auto"` (or absent with an auto default): the caller picks the adapter's choice. */
  autoPrecision: boolean;
}

export interface RecipeParseOptions {
  /** How the person wrote a field, for messages (the CLI: `--weight-decay`). */
  nameOf?: (name: string) => string;
  /** A saved recipe: camelCase keys instead of the request names, and the saved limits. */
  saved?: boolean;
  /** An absent precision means "auto" (new runs); otherwise it is the base's. */
  precisionDefaultsToAuto?: boolean;
}

/**
 * The recipe a request asks for: each field present in `input` is checked against its rule, each
 * absent one is `base`'s. Throws RequestError naming the field as `nameOf` spells it.
 */
export function parseRecipe(
  input: Record<string, unknown>,
  base: TrainRecipe,
  o: RecipeParseOptions = {},
): ParsedRecipe {
  const nameOf = o.nameOf ?? ((n: string) => n);
  const recipe = { ...base } as Record<keyof TrainRecipe, number | string>;
  let autoPrecision = false;
  for (const { key, name, rule } of RECIPE_FIELDS) {
    const value = input[o.saved ? key : name];
    const shown = nameOf(name);
    if ("choices" in rule) {
      const fallback = key === "precision" && o.precisionDefaultsToAuto
        ? "auto"
        : String(base[key]);
      const v = choiceField(value, shown, rule.choices, fallback);
      if (key === "precision" && v === "auto") {
        autoPrecision = true;
        recipe[key] = base.precision;
      } else recipe[key] = v;
      continue;
    }
    const max = o.saved ? rule.savedMax ?? Infinity : rule.max;
    const v = numberField(value, shown, base[key] as number, { ...rule, max });
    if (rule.positive && !(v > 0)) throw new RequestError(`${shown} must be positive, got ${v}`);
    recipe[key] = v;
  }
  return { recipe: recipe as unknown as TrainRecipe, autoPrecision };
}

/** A saved recipe (training_state.json's), checked as strictly as a new one. */
export function parseSavedRecipe(saved: Record<string, unknown>, where: string): TrainRecipe {
  for (const { key } of RECIPE_FIELDS) {
    // Checkpoints from before mixed precision, schedules and EMA existed: f32, constant, no EMA.
    if (saved[key] === undefined && !(key in SAVED_DEFAULTS)) {
      throw new RequestError(`${where}: "${key}" is missing`);
    }
  }
  const { recipe } = parseRecipe({ ...SAVED_DEFAULTS, ...saved }, REFERENCE_RECIPE, {
    saved: true,
    nameOf: (n) => `${where}: ${RECIPE_FIELDS.find((f) => f.name === n)!.key}`,
  });
  return recipe;
}

/**
 * A resumed run's recipe: the saved one, with only RESUMABLE_FIELDS taken from `input`; any other
 * recipe field present is refused. `epoch` is where the run stands (epochs done).
 */
export function parseResumedRecipe(
  input: Record<string, unknown>,
  saved: TrainRecipe,
  epoch: number,
  nameOf: (name: string) => string = (n) => n,
): TrainRecipe {
  const fixed = RECIPE_FIELDS.filter((f) => !RESUMABLE_FIELDS.includes(f.key) && f.name in input);
  if (fixed.length) {
    const allowed = RECIPE_FIELDS.filter((f) => RESUMABLE_FIELDS.includes(f.key));
    throw new RequestError(
      `${nameOf(fixed[0].name)} cannot be changed on resume: the run continues with its recipe ` +
        `(only ${listOf(allowed.map((f) => nameOf(f.name)), "", "and")} may change)`,
    );
  }
  const recipe = parseRecipe(input, saved, { nameOf }).recipe;
  if (epoch >= saved.freezeEpoch && recipe.freezeEpoch > epoch) {
    throw new RequestError(
      `${nameOf("freeze_epoch")} ${recipe.freezeEpoch}: the embedding is frozen since epoch ` +
        `${saved.freezeEpoch + 1} and stays frozen (a frozen net is not trained again)`,
    );
  }
  return recipe;
}

/**
 * A recipe whose embedding never freezes trains no masked epochs, so classifier-free guidance has
 * no "no class" to steer away from: worth a word, not a refusal (a short trial run is fine).
 */
export function freezeNote(recipe: TrainRecipe, nameOf: (n: string) => string = (n) => n) {
  if (recipe.freezeEpoch < recipe.epochs) return undefined;
  return `the class embedding is never frozen in this run (freeze epoch ${recipe.freezeEpoch} >= ` +
    `${recipe.epochs} epochs), so no class vectors are masked and guidance has little to work ` +
    `with; pass ${nameOf("freeze_epoch")} N (< ${recipe.epochs}) to freeze it after epoch N`;
}

export interface RunLimits {
  /** Read the loss back every N steps. */
  logEvery: number;
  /** Stop after this many steps of this invocation (smoke tests); undefined runs to the end. */
  maxSteps?: number;
}

export const RUN_LIMIT_NAMES = ["log_every", "max_steps"];

/** Steps between loss readbacks unless a run asks otherwise: the trainer waits for the GPU only then. */
export const DEFAULT_LOG_EVERY = 10;

/** log_every and max_steps, checked like the recipe's fields. */
export function parseRunLimits(
  input: Record<string, unknown>,
  nameOf: (name: string) => string = (n) => n,
  defaultLogEvery = DEFAULT_LOG_EVERY,
): RunLimits {
  const logEvery = numberField(input.log_every, nameOf("log_every"), defaultLogEvery, {
    min: 1,
    max: 1e6,
    integer: true,
  });
  const maxSteps = input.max_steps === undefined ? undefined : numberField(
    input.max_steps,
    nameOf("max_steps"),
    0,
    { min: 1, max: 1e9, integer: true },
  );
  return { logEvery, maxSteps };
}
