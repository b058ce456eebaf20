// The one parser of an evaluation's settings, for `deno task eval`'s flags and POST /api/quality's
// body alike: the same fields, the same rules; only the largest per-class count differs (the
// server's is small, for a shared GPU). Flags give text, JSON gives numbers; both go through
// numberField. `nameOf` names a field as the person wrote it (--per-class, per_class).
import { RequestError } from "../runtime/errors.ts";
import { numberField } from "../runtime/fields.ts";
import { DEFAULT_EVAL_SETTINGS, type EvalSettings } from "./evaluate.ts";

export const EVAL_FIELD_NAMES = ["per_class", "per_pair", "guidances", "guidance", "steps", "seed"];

export interface EvalLimits {
  maxPerClass: number;
}

const GUIDANCE = { min: 0, max: 20 };

/** Guidances as a JSON array of numbers or a comma-separated text ("1,2"). */
function guidancesField(value: unknown, name: string, fallback: number[]): number[] {
  if (value === undefined || value === null || value === "") return fallback;
  const items = typeof value === "string"
    ? value.split(",").map((g) => g.trim())
    : Array.isArray(value)
    ? value
    : undefined;
  if (!items || items.length === 0 || items.length > 8) {
    throw new RequestError(
      `${name} must be a list of 1 to 8 numbers (guidance scales), got ${JSON.stringify(value)}`,
    );
  }
  return items.map((g) => {
    if (g === "" || g === null) {
      throw new RequestError(`${name} must be a number, got ${JSON.stringify(g)}`);
    }
    return numberField(g, name, NaN, GUIDANCE);
  });
}

export function parseEvalSettings(
  input: Record<string, unknown>,
  limits: EvalLimits,
  defaults: EvalSettings = DEFAULT_EVAL_SETTINGS,
  nameOf: (key: string) => string = (k) => k,
): EvalSettings {
  const D = defaults;
  return {
    ...D,
    perClass: numberField(input.per_class, nameOf("per_class"), D.perClass, {
      min: 2,
      max: limits.maxPerClass,
      integer: true,
    }),
    perPair: numberField(input.per_pair, nameOf("per_pair"), D.perPair, {
      min: 0,
      max: limits.maxPerClass,
      integer: true,
    }),
    guidances: guidancesField(input.guidances, nameOf("guidances"), D.guidances),
    mainGuidance: numberField(input.guidance, nameOf("guidance"), D.mainGuidance, GUIDANCE),
    steps: numberField(input.steps, nameOf("steps"), D.steps, { min: 1, max: 1000, integer: true }),
    seed: numberField(input.seed, nameOf("seed"), D.seed, {
      min: 0,
      max: 2 ** 32 - 1,
      integer: true,
    }),
  };
}
