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
import { type NpyArray, readNpy } from "../data/npy.ts";

/** Bounds on one `deno task sample` run: looser than the server's (one person, their own GPU). */
export const CLI_SAMPLING_LIMITS: SamplingLimits = {
  maxCount: 1024,
  maxPerClass: 64,
  maxScale: 32,
};

const help = `usage: deno task sample [--model DIR | --random-init [--config compact|reference]]
    [--class NAME|INDEX | --labels w0,w1,...] [--count N] [--per-class N]
    [--steps 10] [--eta 0] [--guidance 1] [--scheduler ddim|ddpm] [--seed 1]
    [--scale 4] [--precision f32|f16] [--noise FILE.npy] [--out out/grid.png]
  Without --class or --labels: a grid with one row per class (--per-class sprites each, default 4).
  Same seed, same sprites. --precision f16: f16 GEMM/conv operands (f32 sums).
  --noise FILE.npy   the starting noise instead of the seed's first draw (diffusers' latents=):
                     float32 or float64 [count, 3, size, size] (NCHW), or [3, size, size] for one
                     sprite; --count (or --per-class) defaults to the sprites it holds`;

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
    noise: { type: "string" },
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
  const noise = f.noise === undefined ? undefined : await noiseFile(f.noise);

  const gpu = withPrecision(await getGpu(), precision);
  console.error(adapterLine(gpu));
  const model = await openModel(gpu, {
    model: f.model,
    randomInit: f["random-init"],
    preset: f.config,
  });
  const noiseShape = [
    model.config.in_channels,
    model.config.sample_size!,
    model.config.sample_size!,
  ] as const;
  if (noise) fields.latents = noiseValues(noise, f.noise!, noiseShape);
  const { job, rows, cols, scale } = parseSamplingRequest(fields, {
    classNames: model.classNames,
    limits: CLI_SAMPLING_LIMITS,
    forms: ["class", "labels", "per_class"],
    defaultCount: 16,
    nameOf: (key) => (key === "latents" ? "--noise" : flagName(key)),
    noiseShape,
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

/** The --noise file, read before the adapter is asked for: float32 or float64, 3 or 4 dimensions. */
async function noiseFile(path: string): Promise<NpyArray> {
  const npy = await readNpy(path);
  if (npy.dtype !== "f4" && npy.dtype !== "f8") {
    throw new InputError(`--noise ${path}: ${npy.dtype} values; the noise is float32 or float64`);
  }
  if (npy.shape.length !== 3 && npy.shape.length !== 4) {
    throw new InputError(
      `--noise ${path} is [${npy.shape.join(", ")}]; the noise is [count, channels, height, width]`,
    );
  }
  return npy;
}

/** The file's values, once its shape is known to be this model's noise. */
function noiseValues(npy: NpyArray, path: string, shape: readonly number[]) {
  if (npy.shape.slice(-3).join() !== shape.join()) {
    throw new InputError(
      `--noise ${path} is [${npy.shape.join(", ")}]; this model's noise is [count, ${
        shape.join(", ")
      }] (NCHW, as diffusers' latents)`,
    );
  }
  return npy.data as Float32Array | Float64Array;
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
