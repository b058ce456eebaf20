// A sampling request, whichever front end it came from: one parser from a plain field object (a
// JSON body, a query string, or the CLI's flags under the same snake_case keys) to what the sampler
// runs and how the sprites are laid out. The CLI and HTTP differ only in the arguments they pass:
// which layouts they offer (`forms`), their limits, the default count, and how a field is spelled
// in a message (`nameOf`: `--per-class` on the command line, `per_class` in JSON). Every refusal is
// a RequestError whose message names the field as the person wrote it. Platform-neutral: the page
// can check a request with it before sending one.
//
// The layouts, and how one is chosen:
// - `class`: one class (a name or an index), `count` sprites of it; rows of at most 8.
// - `classes`: a list of classes, a row each, `count` sprites per row (default 4).
// - `labels`: one weight vector ("w0,w1,..." or a list) repeated `count` times, rows of at most 8;
//   or a list of vectors, one sprite each (then `count` is refused: the list is the count).
// - `per_class`: one row per class of the model, `per_class` sprites each (default 4).
// The first three are chosen by their key being present, and at most one may be. `per_class` is
// the layout when none of them is given, and only where the caller offers it (the CLI without
// --class or --labels, /api/grid.png); where it is not offered, exactly one of the others is
// needed (/api/generate). A caller that offers both refuses `count` without a class or labels.
// Keys of layouts the caller does not offer are not read; `samplingFields` lists the keys that are,
// for a caller that refuses the rest.
//
// `latents` (read where the caller gives the model's noise shape): the starting noise of every
// sprite, [count, channels, height, width], in place of the sampler's first draw (latents.ts). With
// it, `count` (or per_class, or the count per row of `classes`) defaults to the sprites it holds,
// and must match them when given.
import { RequestError } from "../runtime/errors.ts";
import { choiceField, numberField } from "../runtime/fields.ts";
import { classIndex, oneHot, parseWeights, repeatVector } from "./labels.ts";
import { latentCount, type NoiseShape, parseLatents } from "./latents.ts";
import type { SampleRequest, SchedulerName } from "./sampler.ts";

/** The most a front end lets one request ask for; the server's are stricter than the CLI's. */
export interface SamplingLimits {
  /** Sprites one request may ask for with class, classes or labels. */
  maxCount: number;
  /** Sprites per row of the per-class grid (which holds classes x per_class, whatever maxCount). */
  maxPerClass: number;
  /** PNG pixels per sprite pixel. */
  maxScale: number;
  /**
   * The work one request may ask for, in UNet item-steps: sprites x steps, twice that with
   * guidance (the UNet runs on the unconditioned half too). Absent: no cap beyond the fields'.
   */
  maxWork?: number;
}

/** UNet item-steps of a request: what its pass costs, whatever the sprites' layout. */
export function samplingWork(job: Pick<SampleRequest, "count" | "steps" | "guidance">): number {
  return job.count * job.steps * (job.guidance !== 1 ? 2 : 1);
}

export type SamplingForm = "class" | "classes" | "labels" | "per_class";

export interface SamplingSpec {
  /** The model's classes, in label order: names and indices are looked up here. */
  classNames: readonly string[];
  limits: SamplingLimits;
  /** The layouts this caller offers (see the header). */
  forms: readonly SamplingForm[];
  /** Sprites of one class or one vector when `count` is not given: 8 on HTTP, 16 on the CLI. */
  defaultCount?: number;
  /** The field as the person wrote it, for messages; default the key itself. */
  nameOf?: (key: string) => string;
  /**
   * One sprite's noise, [in_channels, sample_size, sample_size] of the model: given, the request
   * may carry `latents` (the starting noise); absent, that key is not read.
   */
  noiseShape?: NoiseShape;
}

/** The sampler's settings, each checked; absent ones take the defaults below. */
export interface SamplingOptions {
  steps: number;
  eta: number;
  seed: number;
  guidance: number;
  scheduler: SchedulerName;
}

export interface SamplingRequest {
  /** What the sampler runs: labels [count, classes], count and the options. */
  job: SampleRequest;
  /** How it was asked for: one of the forms, with `labels` split by vector count. */
  layout: "class" | "classes" | "labels" | "label_list" | "per_class";
  /** The grid the sprites fill, row by row. */
  rows: number;
  cols: number;
  scale: number;
}

const EXPLICIT = ["class", "classes", "labels"] as const;
const OPTION_FIELDS = ["steps", "eta", "seed", "guidance", "scheduler", "scale"];
/** Sprites per row of `classes` when `count` is not given. */
const DEFAULT_PER_ROW = 4;
const DEFAULT_PER_CLASS = 4;
/** Rows of one class or one vector wrap at this many sprites. */
const MAX_COLS = 8;

/**
 * The keys `parseSamplingRequest` reads for these forms (and `latents` where the caller gives the
 * noise shape), in the order messages list them.
 */
export function samplingFields(forms: readonly SamplingForm[], o: { latents?: boolean } = {}) {
  const explicit = EXPLICIT.filter((f) => forms.includes(f));
  return [
    ...explicit,
    ...(explicit.length ? ["count"] : []),
    ...(forms.includes("per_class") ? ["per_class"] : []),
    ...OPTION_FIELDS,
    ...(o.latents ? ["latents"] : []),
  ];
}

/** The `guidance` the README recommends for the shipped model, and the page's default. */
export const RECOMMENDED_GUIDANCE = 2;

/**
 * The sprites tab's settings when its link carries none: each class's grid is then the request
 * `{ class, ...GRID_DEFAULTS }`, which the service prepares while it starts (routes/grid.ts).
 */
export const GRID_DEFAULTS = {
  count: 4,
  steps: 10,
  eta: 0,
  seed: 1,
  guidance: RECOMMENDED_GUIDANCE,
} as const;

/** steps 1-1000 (10), eta 0-1 (0), seed 0..2^32-1 (1), guidance 0-20 (1), ddim or ddpm (ddim). */
export function samplingOptions(
  fields: Record<string, unknown>,
  nameOf: (key: string) => string = (k) => k,
): SamplingOptions {
  const int = { integer: true };
  return {
    steps: numberField(fields.steps, nameOf("steps"), 10, { min: 1, max: 1000, ...int }),
    eta: numberField(fields.eta, nameOf("eta"), 0, { min: 0, max: 1 }),
    seed: numberField(fields.seed, nameOf("seed"), 1, { min: 0, max: 2 ** 32 - 1, ...int }),
    guidance: numberField(fields.guidance, nameOf("guidance"), 1, { min: 0, max: 20 }),
    scheduler: choiceField(fields.scheduler, nameOf("scheduler"), ["ddim", "ddpm"], "ddim"),
  };
}

/** The layout, the options and the scale of one request; a RequestError for anything out of bounds. */
export function parseSamplingRequest(
  fields: Record<string, unknown>,
  spec: SamplingSpec,
): SamplingRequest {
  const nameOf = spec.nameOf ?? ((k: string) => k);
  const explicit = EXPLICIT.filter((f) => spec.forms.includes(f));
  const perClass = spec.forms.includes("per_class");
  if (!explicit.length && !perClass) throw new Error("parseSamplingRequest: no forms offered");
  const offered = orList(explicit.map(nameOf));
  const given = explicit.filter((f) => fields[f] !== undefined);
  if (!perClass && given.length !== 1) {
    const not = given.length ? `, not ${given.map(nameOf).join(" and ")}` : "";
    throw new RequestError(`give exactly one of ${offered}${not}`);
  }
  if (given.length > 1) {
    throw new RequestError(
      `give ${offered}, not ${given.length === 2 ? "both" : given.map(nameOf).join(" and ")}`,
    );
  }
  if (!given.length && explicit.length && fields.count !== undefined) {
    throw new RequestError(`${nameOf("count")} needs ${offered}`);
  }
  const latents = spec.noiseShape && fields.latents !== undefined && fields.latents !== null
    ? parseLatents(fields.latents, spec.noiseShape, nameOf("latents"))
    : undefined;
  const noiseFor = latents && latentCount(latents, spec.noiseShape!);
  const layout = given.length
    ? explicitLayout(given[0], fields, spec, nameOf, noiseFor)
    : perClassLayout(fields, spec, nameOf, noiseFor);
  if (noiseFor !== undefined && noiseFor !== layout.count) {
    throw new RequestError(
      `${nameOf("latents")} hold the noise of ${noiseFor} sprite${noiseFor === 1 ? "" : "s"}; ` +
        `this request makes ${layout.count}`,
    );
  }
  const scale = numberField(fields.scale, nameOf("scale"), 4, {
    min: 1,
    max: spec.limits.maxScale,
    integer: true,
  });
  const { labels, count, rows, cols } = layout;
  const options = samplingOptions(fields, nameOf);
  const max = spec.limits.maxWork;
  const work = samplingWork({ count, ...options });
  if (max !== undefined && work > max) {
    throw new RequestError(
      `${count} sprites x ${options.steps} steps${
        options.guidance !== 1 ? " x 2 (guidance)" : ""
      } is ${work} UNet passes; one request may ask for ${max}: fewer sprites or fewer steps`,
    );
  }
  return {
    job: { labels, count, ...options, ...(latents && { latents }) },
    layout: layout.layout,
    rows,
    cols,
    scale,
  };
}

type Layout = Pick<SamplingRequest, "layout" | "rows" | "cols"> & {
  labels: Float32Array;
  count: number;
};

/** Sprites per group when `count` is absent: what the latents hold, where they divide evenly. */
function fallbackCount(noiseFor: number | undefined, groups: number, otherwise: number): number {
  return noiseFor !== undefined && noiseFor % groups === 0 ? noiseFor / groups : otherwise;
}

function explicitLayout(
  form: (typeof EXPLICIT)[number],
  fields: Record<string, unknown>,
  spec: SamplingSpec,
  nameOf: (key: string) => string,
  noiseFor?: number,
): Layout {
  const names = spec.classNames;
  const k = names.length;
  const max = spec.limits.maxCount;
  const countOf = (fallback: number) =>
    numberField(fields.count, nameOf("count"), fallback, { min: 1, max, integer: true });
  const checkTotal = (n: number) => {
    if (n > max) throw new RequestError(`${n} sprites asked for; one request may ask for ${max}`);
  };
  const cls = (v: unknown) => {
    if (typeof v !== "string" && typeof v !== "number") {
      throw new RequestError(`a class is a name or an index, got ${JSON.stringify(v)}`);
    }
    return classIndex(names, v);
  };
  // One vector, `count` times, in rows of at most MAX_COLS.
  const repeated = (layout: Layout["layout"], v: Float32Array): Layout => {
    if (noiseFor !== undefined) checkTotal(noiseFor);
    const count = countOf(fallbackCount(noiseFor, 1, spec.defaultCount ?? 8));
    return { layout, labels: repeatVector(v, count), count, ...gridShape(count) };
  };

  if (form === "class") return repeated("class", oneHot(k, cls(fields.class)));
  if (form === "classes") {
    const list = fields.classes;
    if (!Array.isArray(list) || list.length === 0) {
      throw new RequestError(
        `${nameOf("classes")} must be a non-empty list of class names or indices`,
      );
    }
    const per = countOf(fallbackCount(noiseFor, list.length, DEFAULT_PER_ROW));
    checkTotal(list.length * per);
    const labels = new Float32Array(list.length * per * k);
    list.forEach((c, r) => labels.set(repeatVector(oneHot(k, cls(c)), per), r * per * k));
    return { layout: "classes", labels, count: list.length * per, rows: list.length, cols: per };
  }
  const l = fields.labels;
  const labelsName = nameOf("labels");
  if (Array.isArray(l) && l.length > 0 && l.every(Array.isArray)) {
    if (fields.count !== undefined) {
      throw new RequestError(`${nameOf("count")} goes with one label vector, not a list`);
    }
    checkTotal(l.length);
    const labels = new Float32Array(l.length * k);
    l.forEach((v, i) => labels.set(parseWeights(v as unknown[], k, labelsName), i * k));
    return { layout: "label_list", labels, count: l.length, ...gridShape(l.length) };
  }
  if (typeof l !== "string" && !Array.isArray(l)) {
    throw new RequestError(
      `${labelsName} must be ${k} weights (a list or "w0,w1,...") or a list of such vectors`,
    );
  }
  return repeated("labels", parseWeights(l, k, labelsName));
}

function perClassLayout(
  fields: Record<string, unknown>,
  spec: SamplingSpec,
  nameOf: (key: string) => string,
  noiseFor?: number,
): Layout {
  const k = spec.classNames.length;
  const fallback = fallbackCount(noiseFor, k, DEFAULT_PER_CLASS);
  const per = numberField(fields.per_class, nameOf("per_class"), fallback, {
    min: 1,
    max: spec.limits.maxPerClass,
    integer: true,
  });
  const labels = new Float32Array(k * per * k);
  for (let c = 0; c < k; c++) labels.set(repeatVector(oneHot(k, c), per), c * per * k);
  return { layout: "per_class", labels, count: k * per, rows: k, cols: per };
}

/** `count` sprites in rows of at most 8. */
function gridShape(count: number): { rows: number; cols: number } {
  const cols = Math.min(count, MAX_COLS);
  return { rows: Math.ceil(count / cols), cols };
}

/** "a", "a or b", "a, b or c". */
function orList(items: string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}
