// The one sampling-request parser, called as each front end calls it: /api/generate (class, classes
// or labels), /api/grid.png (the per-class grid) and `deno task sample` (--class, --labels or the
// grid, flags as text, CLI limits and names). Every form, every default, every refusal in both
// spellings, and the grid each layout fills. No GPU: the parser only builds label vectors.
import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { CLI_SAMPLING_LIMITS } from "../../cli/sample.ts";
import { flagName } from "../../cli/args.ts";
import { RequestError } from "../../gpu/runtime/errors.ts";
import {
  parseSamplingRequest,
  samplingFields,
  type SamplingRequest,
  type SamplingSpec,
} from "../../gpu/sample/request.ts";
import { latentsToBase64 } from "../../gpu/sample/latents.ts";
import { SERVER_SAMPLING_LIMITS } from "../../routes/context.ts";

const NAMES = ["human", "non-human", "food", "spell", "side-facing"];
const K = NAMES.length;

const generate: SamplingSpec = {
  classNames: NAMES,
  limits: SERVER_SAMPLING_LIMITS,
  forms: ["class", "classes", "labels"],
};
const grid: SamplingSpec = {
  classNames: NAMES,
  limits: SERVER_SAMPLING_LIMITS,
  forms: ["per_class"],
};
const cli: SamplingSpec = {
  classNames: NAMES,
  limits: CLI_SAMPLING_LIMITS,
  forms: ["class", "labels", "per_class"],
  defaultCount: 16,
  nameOf: flagName,
};

const DEFAULT_OPTIONS = { steps: 10, eta: 0, seed: 1, guidance: 1, scheduler: "ddim" };

/** The label rows as arrays, for readable comparisons. */
function rowsOf(r: SamplingRequest): number[][] {
  return Array.from({ length: r.job.count }, (_, i) => [
    ...r.job.labels.subarray(i * K, (i + 1) * K),
  ]);
}

function hot(c: number): number[] {
  return Array.from({ length: K }, (_, i) => (i === c ? 1 : 0));
}

function options(r: SamplingRequest) {
  const { steps, eta, seed, guidance, scheduler } = r.job;
  return { steps, eta, seed, guidance, scheduler };
}

function shape(r: SamplingRequest) {
  return { layout: r.layout, count: r.job.count, rows: r.rows, cols: r.cols, scale: r.scale };
}

function refused(fields: Record<string, unknown>, spec: SamplingSpec, pattern: RegExp): void {
  throws(() => parseSamplingRequest(fields, spec), (e: unknown) => {
    ok(e instanceof RequestError, `${JSON.stringify(fields)}: threw ${e}`);
    ok(pattern.test(e.message), `${JSON.stringify(fields)}: "${e.message}" lacks ${pattern}`);
    return true;
  });
}

Deno.test("request: the per-class grid and its defaults (grid.png and the CLI with no class)", () => {
  for (const spec of [grid, cli]) {
    const r = parseSamplingRequest({}, spec);
    assertEquals(shape(r), { layout: "per_class", count: 20, rows: 5, cols: 4, scale: 4 });
    assertEquals(options(r), DEFAULT_OPTIONS);
    assertEquals(rowsOf(r), NAMES.flatMap((_, c) => [hot(c), hot(c), hot(c), hot(c)]));
  }
  const three = parseSamplingRequest({ per_class: "3" }, grid);
  assertEquals(shape(three), { layout: "per_class", count: 15, rows: 5, cols: 3, scale: 4 });
  assertEquals(rowsOf(three).slice(3, 6), [hot(1), hot(1), hot(1)]);
  // The grid holds classes x per_class, which may pass maxCount (5 x 16 = 80 > 64), as it always has.
  assertEquals(parseSamplingRequest({ per_class: 16 }, grid).job.count, 80);
  assertEquals(parseSamplingRequest({ per_class: "64" }, cli).job.count, 320);
  // grid.png reads only its own fields: a class or count in its query is not a layout there.
  assertEquals(shape(parseSamplingRequest({ class: "food", count: 3 }, grid)).layout, "per_class");
});

Deno.test("request: one class, by name (any case) or index, count default 8 on HTTP, 16 on the CLI", () => {
  const food = parseSamplingRequest({ class: "food" }, generate);
  assertEquals(shape(food), { layout: "class", count: 8, rows: 1, cols: 8, scale: 4 });
  assertEquals(rowsOf(food), Array(8).fill(hot(2)));
  assertEquals(options(food), DEFAULT_OPTIONS);
  assertEquals(parseSamplingRequest({ class: 2 }, generate).job.labels, food.job.labels);
  assertEquals(parseSamplingRequest({ class: "Food" }, generate).job.labels, food.job.labels);
  assertEquals(parseSamplingRequest({ class: "2" }, generate).job.labels, food.job.labels);

  const cliFood = parseSamplingRequest({ class: "food" }, cli);
  assertEquals(shape(cliFood), { layout: "class", count: 16, rows: 2, cols: 8, scale: 4 });
  const three = parseSamplingRequest({ class: "spell", count: "3" }, cli);
  assertEquals(shape(three), { layout: "class", count: 3, rows: 1, cols: 3, scale: 4 });
  assertEquals(rowsOf(three), [hot(3), hot(3), hot(3)]);
  // Rows of at most 8: 9 sprites wrap onto a second row, 64 fill eight.
  assertEquals(shape(parseSamplingRequest({ class: 0, count: 9 }, generate)).rows, 2);
  assertEquals(shape(parseSamplingRequest({ class: 0, count: 64 }, generate)).rows, 8);
});

Deno.test("request: a list of classes, a row each, count per row (default 4)", () => {
  const r = parseSamplingRequest({ classes: ["human", 4], count: 2 }, generate);
  assertEquals(shape(r), { layout: "classes", count: 4, rows: 2, cols: 2, scale: 4 });
  assertEquals(rowsOf(r), [hot(0), hot(0), hot(4), hot(4)]);
  const d = parseSamplingRequest({ classes: ["spell", "food", "spell"] }, generate);
  assertEquals(shape(d), { layout: "classes", count: 12, rows: 3, cols: 4, scale: 4 });
  assertEquals(rowsOf(d).slice(3, 5), [hot(3), hot(2)]);
  // 16 rows of 4 is the whole allowance.
  assertEquals(parseSamplingRequest({ classes: Array(16).fill(1) }, generate).job.count, 64);
});

Deno.test("request: labels as text, a list, or a list of vectors (one sprite each)", () => {
  const mix = [0.5, 0, 0.5, 0, 0];
  const text = parseSamplingRequest({ labels: "0.5,0,0.5,0,0", count: 2 }, generate);
  assertEquals(shape(text), { layout: "labels", count: 2, rows: 1, cols: 2, scale: 4 });
  assertEquals(rowsOf(text), [mix, mix]);
  assertEquals(
    parseSamplingRequest({ labels: mix, count: 2 }, generate).job.labels,
    text.job.labels,
  );
  assertEquals(parseSamplingRequest({ labels: ["0.5", 0, "0.5", 0, 0] }, generate).job.count, 8);
  const cliMix = parseSamplingRequest({ labels: " 0.5, 0,0.5 ,0,0" }, cli);
  assertEquals(shape(cliMix), { layout: "labels", count: 16, rows: 2, cols: 8, scale: 4 });
  assertEquals(rowsOf(cliMix)[15], mix);
  // The all-zero vector is "no class", the unconditional sprite.
  assertEquals(rowsOf(parseSamplingRequest({ labels: "0,0,0,0,0", count: 1 }, cli)), [[
    0,
    0,
    0,
    0,
    0,
  ]]);

  const list = parseSamplingRequest({ labels: [hot(0), [0, 0, 0, 0, 0], mix] }, generate);
  assertEquals(shape(list), { layout: "label_list", count: 3, rows: 1, cols: 3, scale: 4 });
  assertEquals(rowsOf(list), [hot(0), [0, 0, 0, 0, 0], mix]);
  const ten = parseSamplingRequest({ labels: Array(10).fill(hot(1)) }, generate);
  assertEquals(shape(ten), { layout: "label_list", count: 10, rows: 2, cols: 8, scale: 4 });
});

Deno.test("request: options and scale from numbers or text, at their bounds", () => {
  const query = {
    steps: "1000",
    eta: "1",
    seed: String(2 ** 32 - 1),
    guidance: "20",
    scheduler: "ddpm",
    scale: "16",
  };
  const r = parseSamplingRequest(query, grid);
  assertEquals(options(r), {
    steps: 1000,
    eta: 1,
    seed: 2 ** 32 - 1,
    guidance: 20,
    scheduler: "ddpm",
  });
  assertEquals(r.scale, 16);
  const low = parseSamplingRequest({ class: 0, steps: 1, eta: 0, seed: 0, guidance: 0 }, generate);
  assertEquals(options(low), { steps: 1, eta: 0, seed: 0, guidance: 0, scheduler: "ddim" });
  assertEquals(parseSamplingRequest({ class: "0", scale: "32", eta: "0.25" }, cli).scale, 32);
  assertEquals(parseSamplingRequest({ class: "0", eta: "0.25" }, cli).job.eta, 0.25);
  // An empty query parameter (`?steps=`) or a JSON null is the default.
  assertEquals(options(parseSamplingRequest({ steps: "", scheduler: "" }, grid)), DEFAULT_OPTIONS);
  assertEquals(options(parseSamplingRequest({ class: 0, seed: null }, generate)), DEFAULT_OPTIONS);
});

Deno.test("request: which layout is asked for, refused with HTTP's and the CLI's names", () => {
  refused({}, generate, /^give exactly one of class, classes or labels$/);
  refused(
    { class: 0, labels: hot(0) },
    generate,
    /^give exactly one of class, classes or labels, not class and labels$/,
  );
  refused(
    { class: 0, classes: [1], labels: hot(0) },
    generate,
    /not class and classes and labels$/,
  );
  refused({ class: "0", labels: "1,0,0,0,0" }, cli, /^give --class or --labels, not both$/);
  refused({ count: "4" }, cli, /^--count needs --class or --labels$/);
  throws(() => parseSamplingRequest({}, { ...grid, forms: [] }), /no forms/);
});

Deno.test("request: every field out of bounds is refused, named as the person wrote it", () => {
  const cases: [Record<string, unknown>, SamplingSpec, RegExp][] = [
    [{ class: "dragon" }, generate, /unknown class "dragon": use one of 0 human, 1 non-human/],
    [{ class: "dragon" }, cli, /unknown class "dragon"/],
    [{ class: 5 }, generate, /unknown class "5"/],
    [{ class: true }, generate, /a class is a name or an index, got true/],
    [{ classes: [0, {}] }, generate, /a class is a name or an index, got \{\}/],
    [{ classes: [] }, generate, /^classes must be a non-empty list of class names or indices$/],
    [{ classes: "human" }, generate, /classes must be a non-empty list/],
    [{ class: 0, count: 65 }, generate, /^count must be in \[1, 64\], got 65$/],
    [{ class: "0", count: "1025" }, cli, /^--count must be in \[1, 1024\], got 1025$/],
    [{ class: 0, count: 0 }, generate, /count must be in \[1, 64\], got 0/],
    [{ class: "0", count: "2.5" }, cli, /^--count must be an integer, got "2.5"$/],
    [
      { classes: [0, 1, 2], count: 30 },
      generate,
      /^90 sprites asked for; one request may ask for 64$/,
    ],
    [{ labels: Array(65).fill(hot(0)) }, generate, /65 sprites asked for/],
    [{ labels: [hot(0)], count: 1 }, generate, /^count goes with one label vector, not a list$/],
    [{ labels: [1, 0] }, generate, /^labels need 5 weights \(one per class\), got 2$/],
    [{ labels: "1,0" }, cli, /^--labels need 5 weights \(one per class\), got 2$/],
    [{ labels: [hot(0), [1, 0]] }, generate, /labels need 5 weights/],
    [{ labels: [1, -1, 0, 0, 0] }, generate, /label weights must be finite numbers >= 0, got "-1"/],
    [{ labels: "1,x,0,0,0" }, cli, /label weights must be finite numbers >= 0, got "x"/],
    [
      { labels: 5 },
      generate,
      /^labels must be 5 weights \(a list or "w0,w1,..."\) or a list of such/,
    ],
    [{ class: 0, steps: 0 }, generate, /^steps must be in \[1, 1000\], got 0$/],
    [{ class: 0, steps: 1001 }, generate, /steps must be in \[1, 1000\], got 1001/],
    [{ class: 0, steps: 2.5 }, generate, /^steps must be an integer, got 2.5$/],
    [{ steps: "abc" }, grid, /^steps must be an integer, got "abc"$/],
    [{ steps: "0" }, cli, /^--steps must be in \[1, 1000\], got 0$/],
    [{ class: 0, eta: 2 }, generate, /^eta must be in \[0, 1\], got 2$/],
    [{ eta: "-0.1" }, grid, /eta must be in \[0, 1\], got -0.1/],
    [{ eta: "1.5" }, cli, /^--eta must be in \[0, 1\], got 1.5$/],
    [{ class: 0, seed: -1 }, generate, /^seed must be in \[0, 4294967295\], got -1$/],
    [{ seed: String(2 ** 32) }, cli, /^--seed must be in \[0, 4294967295\]/],
    [{ class: 0, seed: 1.5 }, generate, /seed must be an integer/],
    [{ class: 0, guidance: "x" }, generate, /^guidance must be a number, got "x"$/],
    [{ guidance: "21" }, cli, /^--guidance must be in \[0, 20\], got 21$/],
    [
      { class: 0, scheduler: "euler" },
      generate,
      /^scheduler must be "ddim" or "ddpm", got "euler"$/,
    ],
    [{ scheduler: "euler" }, cli, /^--scheduler must be "ddim" or "ddpm", got "euler"$/],
    [{ per_class: 17 }, grid, /^per_class must be in \[1, 16\], got 17$/],
    [{ per_class: "65" }, cli, /^--per-class must be in \[1, 64\], got 65$/],
    [{ per_class: "0" }, cli, /--per-class must be in \[1, 64\], got 0/],
    [{ class: 0, scale: 17 }, generate, /^scale must be in \[1, 16\], got 17$/],
    [{ scale: "33" }, cli, /^--scale must be in \[1, 32\], got 33$/],
    [{ scale: "0" }, grid, /scale must be in \[1, 16\], got 0/],
  ];
  for (const [fields, spec, pattern] of cases) refused(fields, spec, pattern);
});

Deno.test("request: samplingFields lists what each front end's parser reads", () => {
  assertEquals(samplingFields(generate.forms), [
    "class",
    "classes",
    "labels",
    "count",
    "steps",
    "eta",
    "seed",
    "guidance",
    "scheduler",
    "scale",
  ]);
  assertEquals(samplingFields(grid.forms), [
    "per_class",
    "steps",
    "eta",
    "seed",
    "guidance",
    "scheduler",
    "scale",
  ]);
  assertEquals(samplingFields(cli.forms).slice(0, 4), ["class", "labels", "count", "per_class"]);
});

Deno.test("request: latents as nested lists or base64, the count from the noise, mismatches named", () => {
  const shape4: [number, number, number] = [3, 2, 2]; // a tiny noise shape keeps the lists short
  const spec: SamplingSpec = { ...generate, noiseShape: shape4 };
  const one = (k: number) => Array.from({ length: 3 }, (_, c) => [[k, c], [-k, 0.5]]);
  const flat = (k: number) => one(k).flat(2);
  const nested = parseSamplingRequest({ class: "food", latents: [one(1), one(2)] }, spec);
  assertEquals(shape(nested), { layout: "class", count: 2, rows: 1, cols: 2, scale: 4 });
  assertEquals([...nested.job.latents!], [...flat(1), ...flat(2)]);
  const b64 = parseSamplingRequest(
    { class: "food", count: 2, latents: latentsToBase64([...flat(1), ...flat(2)]) },
    spec,
  );
  assertEquals(b64.job.latents, nested.job.latents);
  // The count of each layout follows the noise: two rows of 2, a per-class grid of 1 each.
  const rows = parseSamplingRequest({ classes: [0, 4], latents: [1, 2, 3, 4].map(one) }, spec);
  assertEquals(shape(rows), { layout: "classes", count: 4, rows: 2, cols: 2, scale: 4 });
  const perClass = parseSamplingRequest(
    { latents: [1, 2, 3, 4, 5].map(one) },
    { ...cli, noiseShape: shape4 },
  );
  assertEquals(shape(perClass), { layout: "per_class", count: 5, rows: 5, cols: 1, scale: 4 });
  // A CLI's typed array (an .npy file's values) reads as base64 and lists do.
  const typed = parseSamplingRequest(
    { class: 0, latents: Float64Array.from(flat(3)) },
    { ...cli, noiseShape: shape4 },
  );
  assertEquals([...typed.job.latents!], flat(3));
  // Without a noise shape the caller does not offer latents: the key is not read.
  assertEquals(parseSamplingRequest({ class: 0, latents: "x" }, generate).job.latents, undefined);
  assertEquals(samplingFields(generate.forms, { latents: true }).at(-1), "latents");
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { class: 0, count: 3, latents: [one(1)] },
      /^latents hold the noise of 1 sprite; this request makes 3$/,
    ],
    [
      { class: 0, latents: [[[[1]]]] },
      /^latents\[0\] must be a list of 3 \(a sprite's noise is \[3, 2, 2\]\), got 1$/,
    ],
    [
      { class: 0, latents: [[[[1, "a"], [1, 1]], [[1, 1], [1, 1]], [[1, 1], [1, 1]]]] },
      /latents\[0\]\[0\]\[0\]\[1\] must be a number, got "a"/,
    ],
    [{ class: 0, latents: "not base64!" }, /latents is a string but not base64/],
    [
      { class: 0, latents: latentsToBase64([1, 2, 3]) },
      /latents holds 3 values; the noise is \[count, 3, 2, 2\], 12 values a sprite/,
    ],
    [{ class: 0, latents: "AAAAAAA=" }, /not whole float32 values/],
    [
      { class: 0, latents: latentsToBase64(Array(12).fill(NaN)) },
      /value 0 is NaN; noise values must be finite/,
    ],
    [{ class: 0, latents: latentsToBase64(Array(12).fill(2000)) }, /within ±1000/],
    [{ class: 0, latents: 5 }, /latents must be the starting noise \[count, 3, 2, 2\]/],
    [{ class: 0, latents: [] }, /latents holds 0 values/],
    [
      { class: 0, latents: Array.from({ length: 65 }, () => one(1)) },
      /65 sprites asked for; one request may ask for 64/,
    ],
  ];
  for (const [fields, pattern] of cases) refused(fields, spec, pattern);
  refused(
    { class: 0, count: "2", latents: Float32Array.from(flat(1)) },
    { ...cli, noiseShape: shape4, nameOf: (k) => (k === "latents" ? "--noise" : flagName(k)) },
    /^--noise hold the noise of 1 sprite; this request makes 2$/,
  );
});
