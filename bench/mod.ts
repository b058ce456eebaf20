// `deno task bench`: kernel throughput at the real model's shapes, on whatever adapter is in use.
import { parseFlags } from "../cli/args.ts";
import { adapterLine, getGpu } from "../gpu/device.ts";
import { benchConv2d } from "./conv2d_bench.ts";
import { benchMatmul } from "./matmul_bench.ts";

export interface BenchRow {
  name: string;
  shape: string;
  ms: number;
  gflops: number;
}

function table(rows: BenchRow[]): string {
  const header = `${"kernel".padEnd(30)} ${"shape".padEnd(34)} ${"ms".padStart(9)} ${
    "GFLOP/s".padStart(9)
  }`;
  const body = rows.map((r) =>
    `${r.name.padEnd(30)} ${r.shape.padEnd(34)} ${r.ms.toFixed(3).padStart(9)} ${
      r.gflops.toFixed(1).padStart(9)
    }`
  );
  return [header, ...body].join("\n");
}

export async function benchCommand(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, { json: { type: "boolean" }, help: { type: "boolean" } }, "bench");
  if (flags.help) {
    console.log(
      "usage: deno task bench [--json]\n  kernel GFLOP/s at the model's shapes, batch 32",
    );
    return;
  }
  const gpu = await getGpu();
  const header = {
    adapter: gpu.description,
    adapterClass: gpu.adapterClass,
    timing: gpu.hasTimestamps ? "timestamp-query" : "wall clock",
    deno: Deno.version.deno,
  };
  if (!flags.json) {
    console.log(`${adapterLine(gpu)}\ndeno ${header.deno}, timing: ${header.timing}`);
  }
  const sections: Record<string, BenchRow[]> = {};
  for (const [name, run] of [["matmul", benchMatmul], ["conv2d", benchConv2d]] as const) {
    sections[name] = await run(gpu);
    if (!flags.json) console.log(`\n${table(sections[name])}`);
  }
  if (flags.json) console.log(JSON.stringify({ ...header, ...sections }, null, 2));
}
