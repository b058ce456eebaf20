// Flag parsing for every subcommand: node:util's parseArgs in strict mode, so an unknown flag or a
// missing value is an InputError that names it, never a silent default.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { InputError } from "../errors.ts";
import { choiceField, numberField } from "../gpu/runtime/fields.ts";

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<T extends FlagSpec>(argv: string[], options: T, command: string) {
  try {
    const args = joinNegativeValues(argv, options);
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new InputError(`${command}: ${(e as Error).message}`);
  }
}

/**
 * `--guidance -1` as `--guidance=-1`: parseArgs reads a value that starts with "-" as a flag and
 * calls the pair ambiguous; a number is a value, so the range check can say what is wrong with it.
 */
function joinNegativeValues(argv: string[], options: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") ? argv[i].slice(2) : "";
    const next = argv[i + 1];
    if (
      Object.hasOwn(options, name) && options[name].type === "string" && next !== undefined &&
      /^-\d|^-\.\d/.test(next)
    ) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/**
 * A flag that must be a number within [min, max] (integer when `integer`): the rule of
 * gpu/runtime/fields.ts (its RequestError exits 2 like every other bad flag).
 */
export function numberFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  { min = -Infinity, max = Infinity, integer = false } = {},
): number {
  if (value === undefined) return fallback;
  // fields.ts reads "" as absent (an empty query parameter); an empty flag (`--steps=`) is a slip.
  if (value === "") {
    throw new InputError(`--${name} must be ${integer ? "an integer" : "a number"}, got ""`);
  }
  return numberField(value, `--${name}`, fallback, { min, max, integer });
}

/** The flag a request field is given as: per_class -> --per-class. */
export function flagName(key: string): string {
  return `--${key.replaceAll("_", "-")}`;
}

/** --precision: f32 or f16 (and auto where `auto` is allowed); undefined gives `fallback`. */
export function precisionFlag<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  return choiceField(value, "--precision", allowed, fallback);
}

/** The given flags among `fields` (snake_case request names), keyed by field name. */
export function flagFields(
  flags: Record<string, unknown>,
  fields: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = flags[field.replaceAll("_", "-")];
    if (value !== undefined) out[field] = value;
  }
  return out;
}
