// `deno task data`: the dataset report (counts per class before and after cleaning).
import { numberFlag, parseFlags } from "./args.ts";
import { runDataCommand } from "../data/report.ts";

const help =
  `usage: deno task data [--sprites FILE.npy --labels FILE.npy] [--json] [--white-threshold N]
  Reports a sprite dataset: counts per class before and after the reference's cleaning rule
  (a sprite is removed when fewer than N pixels are pure white (default 26) or a corner is not).
  Without --sprites/--labels it reports the bundled procedural dataset.`;

export async function dataCommand(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    sprites: { type: "string" },
    labels: { type: "string" },
    json: { type: "boolean" },
    "white-threshold": { type: "string" },
    help: { type: "boolean" },
  }, "data");
  if (flags.help) return console.log(help);
  const whiteThreshold = numberFlag(flags["white-threshold"], "white-threshold", 26, {
    min: 0,
    max: 256,
    integer: true,
  });
  console.log(
    await runDataCommand({
      sprites: flags.sprites,
      labels: flags.labels,
      json: flags.json ?? false,
      whiteThreshold,
    }),
  );
}
