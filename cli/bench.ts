// `deno task bench`: flags into bench/'s options, then its report on stdout (text or --json).
import {
  type BenchOptions,
  formatHeader,
  formatResults,
  runBench,
  summarize,
} from "../bench/mod.ts";
import type { NamedConfig } from "../bench/training_bench.ts";
import { configFromSource } from "../data/model_source.ts";
import { InputError } from "../errors.ts";
import { getGpu, type Precision } from "../gpu/runtime/device.ts";
import { numberFlag, parseFlags } from "./args.ts";

function listFlag(value: string | undefined, name: string, fallback: string): string[] {
  const items = (value ?? fallback).split(",").map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new InputError(`--${name} needs at least one value`);
  return items;
}

const USAGE =
  `usage: deno task bench [--configs compact,reference|config.json] [--batches 32,128] [--steps 3]
                        [--precisions f32,f16] [--no-sample] [--no-kernels] [--ops] [--json]
  training it/s (--steps back to back after a warm-up step, then each alone), sampling latency
  (20 sprites x 10 DDIM steps), per-kernel times of one training step of the first config and batch (timestamp queries),
  --ops: the matmul/conv2d op table at the model's shapes`;

export async function benchCommand(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    configs: { type: "string" },
    batches: { type: "string" },
    precisions: { type: "string" },
    steps: { type: "string" },
    sample: { type: "boolean" },
    "no-sample": { type: "boolean" },
    kernels: { type: "boolean" },
    "no-kernels": { type: "boolean" },
    ops: { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  }, "bench");
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const configs: NamedConfig[] = [];
  for (const name of listFlag(flags.configs, "configs", "compact,reference")) {
    const config = await configFromSource(name, "--configs");
    configs.push({ name: name.split("/").pop()!.replace(/\.json$/, ""), config });
  }
  const batches = listFlag(flags.batches, "batches", "32,128").map((b) =>
    numberFlag(b, "batches", 0, { min: 1, max: 4096, integer: true })
  );
  const precisions = listFlag(flags.precisions, "precisions", "f32,f16").map((p) => {
    if (p !== "f32" && p !== "f16") {
      throw new InputError(`--precisions: "${p}" is not f32 or f16`);
    }
    return p as Precision;
  });
  const options: BenchOptions = {
    configs,
    batches,
    precisions,
    steps: numberFlag(flags.steps, "steps", 3, { min: 1, max: 1000, integer: true }),
    sample: flags["no-sample"] ? null : { count: 20, steps: 10, repeats: 3 },
    kernels: !flags["no-kernels"],
    ops: flags.ops ?? false,
  };
  const gpu = await getGpu();
  if (!flags.json) console.log(formatHeader(gpu, configs.map((c) => summarize(c, batches))));
  const report = await runBench(gpu, options, (line) => console.error(`bench: ${line}`));
  if (flags.json) console.log(JSON.stringify(report, null, 2));
  else console.log(formatResults(report));
}
