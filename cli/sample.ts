// `deno task sample`: sprites from a model into a PNG grid (the same code path as /api/generate).
import { encodePng, spriteGrid } from "../data/png.ts";
import { classIndex, oneHot, parseWeights, repeatVector } from "../gpu/sample/labels.ts";
import { InputError } from "../errors.ts";
import { adapterLine, getGpu, withPrecision } from "../gpu/runtime/device.ts";
import { type SchedulerName, SpriteSampler } from "../gpu/sample/sampler.ts";
import { numberFlag, parseFlags, precisionFlag } from "./args.ts";
import { openModel } from "../data/model_source.ts";

const help = `usage: deno task sample [--model DIR | --random-init [--config compact|reference]]
    [--class NAME|INDEX | --labels w0,w1,...] [--count N] [--per-class N]
    [--steps 10] [--eta 0] [--guidance 1] [--scheduler ddim|ddpm] [--seed 1]
    [--scale 4] [--precision f32|f16] [--out grid.png]
  Without --class or --labels: a grid with one row per class (--per-class sprites each, default 4).
  Same seed, same sprites. --precision f16: f16 GEMM/conv operands (f32 sums).`;

export async function sampleCommand(argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    model: { type: "string" },
    "random-init": { type: "boolean" },
    config: { type: "string" },
    class: { type: "string" },
    labels: { type: "string" },
    count: { type: "string" },
    "per-class": { type: "string" },
    steps: { type: "string" },
    eta: { type: "string" },
    guidance: { type: "string" },
    scheduler: { type: "string" },
    seed: { type: "string" },
    scale: { type: "string" },
    precision: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean" },
  }, "sample");
  if (f.help) return console.log(help);
  if (f.class !== undefined && f.labels !== undefined) {
    throw new InputError("give --class or --labels, not both");
  }
  const steps = numberFlag(f.steps, "steps", 10, { min: 1, max: 1000, integer: true });
  const eta = numberFlag(f.eta, "eta", 0, { min: 0, max: 1 });
  const guidance = numberFlag(f.guidance, "guidance", 1, { min: 0, max: 20 });
  const seed = numberFlag(f.seed, "seed", 1, { min: 0, max: 2 ** 32 - 1, integer: true });
  const scale = numberFlag(f.scale, "scale", 4, { min: 1, max: 32, integer: true });
  const scheduler = (f.scheduler ?? "ddim") as SchedulerName;
  if (scheduler !== "ddim" && scheduler !== "ddpm") {
    throw new InputError(`--scheduler must be ddim or ddpm, got "${f.scheduler}"`);
  }
  const out = f.out ?? "grid.png";
  const precision = precisionFlag(f.precision, ["f32", "f16"] as const, "f32");

  const gpu = withPrecision(await getGpu(), precision);
  console.error(adapterLine(gpu));
  const model = await openModel(gpu, {
    model: f.model,
    randomInit: f["random-init"],
    preset: f.config,
  });
  const sampler = new SpriteSampler(gpu, model);
  const classes = sampler.classes;

  let labels: Float32Array;
  let rows: number;
  let cols: number;
  if (f.class !== undefined || f.labels !== undefined) {
    const count = numberFlag(f.count, "count", 16, { min: 1, max: 1024, integer: true });
    const v = f.class !== undefined
      ? oneHot(classes, classIndex(model.classNames, f.class))
      : parseWeights(f.labels!, classes);
    labels = repeatVector(v, count);
    cols = Math.min(count, 8);
    rows = Math.ceil(count / cols);
  } else {
    if (f.count !== undefined) throw new InputError("--count needs --class or --labels");
    const perClass = numberFlag(f["per-class"], "per-class", 4, { min: 1, max: 64, integer: true });
    labels = new Float32Array(classes * perClass * classes);
    for (let c = 0; c < classes; c++) {
      for (let i = 0; i < perClass; i++) labels[(c * perClass + i) * classes + c] = 1;
    }
    rows = classes;
    cols = perClass;
  }
  const count = labels.length / classes;
  const started = performance.now();
  const sprites = await sampler.generate({ labels, count, steps, eta, seed, guidance, scheduler });
  const seconds = (performance.now() - started) / 1000;
  const grid = spriteGrid(sprites, rows, cols, scale);
  await Deno.writeFile(out, encodePng(grid.rgb, grid.width, grid.height));
  console.error(
    `wrote ${out}: ${count} sprites, ${steps} ${scheduler} steps, ${seconds.toFixed(2)} s ` +
      "(including the one-time kernel compilation)",
  );
}
