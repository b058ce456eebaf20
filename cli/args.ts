// Flag parsing for every subcommand: node:util's parseArgs in strict mode, so an unknown flag or a
// missing value is an InputError that names it, never a silent default.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { InputError } from "../errors.ts";

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<T extends FlagSpec>(argv: string[], options: T, command: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new InputError(`${command}: ${(e as Error).message}`);
  }
}

/** A flag that must be a number within [min, max] (integer when `integer`). */
export function numberFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  { min = -Infinity, max = Infinity, integer = false } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new InputError(
      `--${name} must be ${integer ? "an integer" : "a number"}, got "${value}"`,
    );
  }
  if (n < min || n > max) throw new InputError(`--${name} must be in [${min}, ${max}], got ${n}`);
  return n;
}

/** --precision: f32 or f16 (and auto where `auto` is allowed); undefined gives `fallback`. */
export function precisionFlag<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(`--precision must be ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** A request field as its flag: `weight_decay` -> `--weight-decay`. */
export const flagName = (field: string): string => `--${field.replaceAll("_", "-")}`;

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
