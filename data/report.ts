// The dataset report behind `deno task data`: counts per class before and after the cleaning
// rule, as JSON or as a table a person reads.
import { InputError } from "../errors.ts";
import { type DatasetReport, datasetReport, REFERENCE_CLEANING_RULE } from "./clean.ts";
import { BUNDLED_LABELS_PATH, BUNDLED_SPRITES_PATH } from "./generate.ts";
import { loadSpriteDataset } from "./sprites.ts";

/** The report as plain JSON data (without the removed indices, which can run to 30,000). */
export function reportJson(report: DatasetReport, files: { sprites: string; labels: string }) {
  return {
    sprites: files.sprites,
    labels: files.labels,
    total: report.total,
    kept: report.kept,
    removed: report.removed,
    height: report.height,
    width: report.width,
    rule: report.rule,
    classes: report.classes,
  };
}

export function reportText(
  report: DatasetReport,
  files: { sprites: string; labels: string },
): string {
  const name = Math.max(5, ...report.classes.map((c) => c.name.length));
  const row = (cells: string[]) =>
    cells[0].padEnd(name + 6) + cells.slice(1).map((s) => s.padStart(9)).join("");
  const lines = [
    `sprites: ${files.sprites}`,
    `labels:  ${files.labels}`,
    `${report.total} sprites of ${report.height}x${report.width}; cleaning rule: a sprite is removed ` +
    `when fewer than ${report.rule.minWhitePixels} pixels are pure white` +
    (report.rule.requireWhiteCorners ? " or a corner pixel is not pure white" : ""),
    "",
    row(["class", "before", "removed", "after"]),
    ...report.classes.map((c) =>
      row([`${c.index} ${c.name}`, String(c.before), String(c.removed), String(c.after)])
    ),
    row(["total", String(report.total), String(report.removed), String(report.kept)]),
  ];
  return lines.join("\n");
}

export async function runDataCommand(args: {
  sprites?: string;
  labels?: string;
  json: boolean;
  whiteThreshold?: number;
}): Promise<string> {
  if ((args.sprites === undefined) !== (args.labels === undefined)) {
    throw new InputError("data: give both --sprites and --labels, or neither for the bundled set");
  }
  const files = {
    sprites: args.sprites ?? BUNDLED_SPRITES_PATH,
    labels: args.labels ?? BUNDLED_LABELS_PATH,
  };
  const ds = await loadSpriteDataset(files.sprites, files.labels);
  const report = datasetReport(ds, {
    minWhitePixels: args.whiteThreshold ?? REFERENCE_CLEANING_RULE.minWhitePixels,
  });
  return args.json ? JSON.stringify(reportJson(report, files), null, 2) : reportText(report, files);
}
