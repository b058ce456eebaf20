// Checked fields of a request, whichever front end it came from: a JSON body gives numbers, a flag
// or a query string gives text; both go through the same rules, so the CLI and HTTP accept and
// refuse the same values. `name` is the field as the person wrote it (`--per-class`, `per_class`).
import { RequestError } from "./errors.ts";

export interface NumberRule {
  min: number;
  max: number;
  integer?: boolean;
}

/** A number within [min, max] (an integer when `integer`); absent (undefined, null, "") -> fallback. */
export function numberField(
  value: unknown,
  name: string,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = typeof value === "number"
    ? value
    : typeof value === "string" && value.trim() !== ""
    ? Number(value)
    : NaN;
  if (!Number.isFinite(n) || (rule.integer && !Number.isInteger(n))) {
    throw new RequestError(
      `${name} must be ${rule.integer ? "an integer" : "a number"}, got ${JSON.stringify(value)}`,
    );
  }
  if (n < rule.min || n > rule.max) {
    throw new RequestError(`${name} must be in [${rule.min}, ${rule.max}], got ${n}`);
  }
  return n;
}

/** `"a", "b" or "c"` (with `quote` "" and `last` "and": `a, b and c`). */
export function listOf(items: readonly string[], quote = '"', last = "or"): string {
  const q = items.map((a) => `${quote}${a}${quote}`);
  return q.length < 2 ? q.join("") : `${q.slice(0, -1).join(", ")} ${last} ${q.at(-1)}`;
}

/** One of `allowed`; absent -> fallback. */
export function choiceField<T extends string>(
  value: unknown,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new RequestError(`${name} must be ${listOf(allowed)}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Refuses any key of `input` not in `known`, naming it and the known ones. */
export function refuseUnknownFields(
  input: Record<string, unknown>,
  known: readonly string[],
  nameOf: (key: string) => string = (k) => k,
): void {
  const unknown = Object.keys(input).filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new RequestError(
      `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map(nameOf).join(", ")}; known: ${
        known.map(nameOf).join(", ")
      }`,
    );
  }
}
