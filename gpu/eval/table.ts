// The evaluation report as the text table `deno task eval` prints (the page shows the same rows).
import type { EvalReport } from "./evaluate.ts";

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "-");
const num = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "-");

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * The table's cells: a header, one row per class, then the overall row ("all (mean)"). The text
 * table and the page's Quality tab both show these.
 */
export function classTable(r: EvalReport): { header: string[]; rows: string[][] } {
  const g = r.settings.mainGuidance;
  const names = r.classNames;
  const cons = r.consistency;
  const header = [
    "class",
    "judge",
    ...cons.map((c) => `cons g${c.guidance}`),
    `FID g${g}`,
    "floor",
    "copies",
    "real",
    "thresh",
    "div",
    "real",
    "ratio",
    ...(r.backgrounds ? ["clean bg", "corner gap"] : []),
  ];
  const rows = names.map((name, c) => {
    const m = r.memorization.perClass[c];
    const d = r.diversity.perClass[c];
    return [
      `${c} ${name}`,
      pct(r.judge.heldOut.perClass[c]?.accuracy),
      ...cons.map((x) => pct(x.perClass[c].share)),
      num(r.fid.perClass[c].generated),
      num(r.fid.perClass[c].floor),
      pct(m.generated),
      pct(m.heldOutReal),
      num(m.threshold, 3),
      num(d.generated, 3),
      num(d.real, 3),
      num(d.ratio),
      ...(r.backgrounds
        ? [pct(r.backgrounds.perClass[c].generated), num(r.backgrounds.perClass[c].cornerGap, 3)]
        : []),
    ];
  });
  const meanOf = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  rows.push([
    "all (mean)",
    pct(r.judge.heldOut.balancedAccuracy),
    ...cons.map((x) => pct(x.mean)),
    num(r.fid.overall.generated),
    num(r.fid.overall.floor),
    pct(r.memorization.overall.generated),
    pct(r.memorization.overall.heldOutReal),
    "",
    num(meanOf(r.diversity.perClass.map((d) => d.generated)), 3),
    num(meanOf(r.diversity.perClass.map((d) => d.real)), 3),
    num(meanOf(r.diversity.perClass.map((d) => d.ratio))),
    ...(r.backgrounds ? [pct(r.backgrounds.overall), num(r.backgrounds.cornerGap, 3)] : []),
  ]);
  return { header, rows };
}

/** The report as plain text: one row per class plus the overall row, then the mixtures. */
export function reportTable(r: EvalReport, title = "quality"): string {
  const s = r.settings;
  const g = s.mainGuidance;
  const names = r.classNames;
  const { header, rows } = classTable(r);
  const lines = [
    `${title}: ${s.perClass} sprites per class, DDIM ${s.steps} steps, eta 0, seed ${s.seed}; ` +
    `FID, copies, diversity and backgrounds at guidance ${g}`,
    table(header, rows),
  ];
  if (r.mixtures.length) {
    const mixHeader = [
      "mixture (50/50)",
      ...r.mixtures.map((m) => `either g${m.guidance}`),
      "split",
    ];
    const mixRows = r.mixtures[0].pairs.map((p, i) => [
      `${names[p.a]} + ${names[p.b]}`,
      ...r.mixtures.map((m) => pct(m.pairs[i].either)),
      r.mixtures.map((m) => `${pct(m.pairs[i].shareA)}/${pct(m.pairs[i].shareB)}`).join(", "),
    ]);
    mixRows.push(["all (mean)", ...r.mixtures.map((m) => pct(m.mean)), ""]);
    lines.push("", `mixtures: ${s.perPair} sprites per pair`, table(mixHeader, mixRows));
  }
  lines.push(
    "",
    "judge: the classifier's held-out accuracy. cons: share read as the class asked for. FID: " +
      "classifier features, generated vs half the real sprites; floor: as many real sprites of " +
      "the other half. copies: share within the class's threshold of a training sprite (RMS " +
      `pixel distance; the held-out real sprites' ${100 * s.copyQuantile}% quantile, at least ` +
      `${s.copyFloor}); real: the held-out sprites' own share. div: mean pairwise distance. clean ` +
      "bg: share passing the cleaning rule; corner gap: the corners' largest distance from pure " +
      "white (0 passes).",
  );
  return lines.join("\n");
}
