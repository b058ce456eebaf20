// Sprite Diffusion's single entry point: `deno task X` maps to `main.ts X`.
// Each subcommand lives in its own module, imported only when it runs.
import "./cli/environment.ts";
import { GpuUnavailableError } from "./gpu/runtime/device.ts";
import { inputErrorStatus } from "./errors.ts";

type Command = (argv: string[]) => Promise<void>;

const commands: Record<string, { about: string; load: () => Promise<Command> }> = {
  serve: {
    about: "start the HTTP service and the sprite page",
    load: async () => (await import("./cli/serve.ts")).serveCommand,
  },
  train: {
    about: "train a model on the sprite dataset",
    load: async () => (await import("./cli/train.ts")).trainCommand,
  },
  sample: {
    about: "generate sprites into a PNG grid",
    load: async () => (await import("./cli/sample.ts")).sampleCommand,
  },
  data: {
    about: "report a sprite dataset (counts per class, cleaning)",
    load: async () => (await import("./cli/data.ts")).dataCommand,
  },
  "check-reference": {
    about: "check a diffusers UNet against a reference case file",
    load: async () => (await import("./cli/check_reference.ts")).checkReferenceCommand,
  },
  eval: {
    about: "measure a model's quality (class consistency, FID, near-copies, diversity)",
    load: async () => (await import("./cli/eval.ts")).evalCommand,
  },
  subclasses: {
    about: "find sub-classes by k-means on the UNet's mid-block features",
    load: async () => (await import("./cli/subclasses.ts")).subclassesCommand,
  },
  bench: {
    about: "measure kernels and training/sampling speed on this adapter",
    load: async () => (await import("./cli/bench.ts")).benchCommand,
  },
  "export-site": {
    about: "write the page and a model as a static site (sprites made in the browser)",
    load: async () => (await import("./cli/export_site.ts")).exportSiteCommand,
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(16)} ${c.about}`);
  return `usage: deno task <command> [flags]   (or: deno run main.ts <command>)\n${
    lines.join("\n")
  }\nEach command takes --help.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    await (await command.load())(rest);
    return 0;
  } catch (e) {
    // Bad input (a flag, a file, a config, a checkpoint) exits 2; no adapter exits 1.
    if (inputErrorStatus(e) !== undefined || e instanceof GpuUnavailableError) {
      console.error(`error: ${(e as Error).message}`);
      return e instanceof GpuUnavailableError ? 1 : 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
