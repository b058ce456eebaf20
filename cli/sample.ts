// `deno task sample`: sprites from a model into a PNG grid (the same code path as /api/generate).
// The flags are a sampling request under gpu/sample/request.ts's keys (--per-class is per_class),
// read by the parser HTTP uses, with the CLI's own limits and default count.
import { encodePng, spriteGrid } from "../data/png.ts";
import { InputError } from "../errors.ts";
import { adapterLine, getGpu, withPrecision } from "../gpu/runtime/device.ts";
import {
  parseSamplingRequest,
  type SamplingLimits,
  samplingOptions,
} from "../gpu/sample/request.ts";
import { SpriteSampler } from "../gpu/sample/sampler.ts";
import { flagFields, flagName, parseFlags, precisionFlag } from "./args.ts";
import { openModel } from "../data/model_source.ts";

/** Bounds on one `deno task sample` run: looser than the server's (one person, their own GPU). */
export const CLI_SAMPLING_LIMITS: SamplingLimits = {
  maxCount: 1024,
  maxPerClass: 64,
  maxScale: 32,
};

const help = `usage: deno task sample [--model DIR | --random-init [--config compact|reference]]
    [--class NAME|INDEX | --labels w0,w1,...] [--count N] [--per-class N]
    [--steps 10] [--eta 0] [--guidance 1] [--scheduler ddim|ddpm] [--seed 1]
    [--scale 4] [--precision f32|f16] [--out out/grid.png]
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
  const fields = flagFields(f, [
    "class",
    "labels",
    "count",
    "per_class",
    "steps",
    "eta",
    "seed",
    "guidance",
    "scheduler",
    "scale",
  ]);
  // The parser reads "" as absent (an empty query parameter); an empty flag (`--steps=`) is a slip.
  for (const [key, value] of Object.entries(fields)) {
    if (value === "") throw new InputError(`${flagName(key)} needs a value`);
  }
  // Everything that needs no model is checked before the adapter and the model are opened.
  samplingOptions(fields, flagName);
  const out = await pngOutput(f.out ?? "out/grid.png");
  const precision = precisionFlag(f.precision, ["f32", "f16"] as const, "f32");

  const gpu = withPrecision(await getGpu(), precision);
  console.error(adapterLine(gpu));
  const model = await openModel(gpu, {
    model: f.model,
    randomInit: f["random-init"],
    preset: f.config,
  });
  const { job, rows, cols, scale } = parseSamplingRequest(fields, {
    classNames: model.classNames,
    limits: CLI_SAMPLING_LIMITS,
    forms: ["class", "labels", "per_class"],
    defaultCount: 16,
    nameOf: flagName,
  });
  const sampler = new SpriteSampler(gpu, model);
  const started = performance.now();
  const sprites = await sampler.generate(job);
  const seconds = (performance.now() - started) / 1000;
  const size = sampler.size;
  const grid = spriteGrid(sprites, rows, cols, scale, { spriteHeight: size, spriteWidth: size });
  try {
    await Deno.writeFile(out, encodePng(grid.rgb, grid.width, grid.height));
  } catch (e) {
    throw new InputError(`cannot write ${out}: ${(e as Error).message}`);
  }
  console.error(
    `wrote ${out}: ${job.count} sprites, ${job.steps} ${job.scheduler} steps, ` +
      `${seconds.toFixed(2)} s (including the one-time kernel compilation)`,
  );
}

/**
 * The output file, checked before any slow work: a .png name (the bytes are PNG), its folder made
 * if missing, and not a folder itself.
 */
async function pngOutput(path: string): Promise<string> {
  if (!/\.png$/i.test(path)) {
    throw new InputError(`--out ${path}: the grid is written as PNG; give a name ending in .png`);
  }
  const slash = path.lastIndexOf("/");
  try {
    if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
    const stat = await Deno.stat(path).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    });
    if (stat?.isDirectory) throw new Error("it is a folder");
  } catch (e) {
    throw new InputError(`--out ${path}: ${(e as Error).message}`);
  }
  return path;
}
