/** @jsxImportSource preact */
/** @jsxRuntime automatic */
// The dataset tab: the serving model's training data, counts per class before and after the
// cleaning rule, and the sprites themselves: the ones it removed or the ones it kept, of one class
// or all.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api.ts";

interface Report {
  total: number;
  kept: number;
  removed: number;
  classes: { index: number; name: string; before: number; after: number; removed: number }[];
}

export interface DatasetView {
  kind: "removed" | "kept";
  cls: string;
}

export function DatasetTab(
  props: { view: DatasetView; setView: (v: DatasetView) => void; modelVersion: number },
) {
  const [report, setReport] = useState<Report | undefined>();
  const [error, setError] = useState("");
  const { kind, cls } = props.view;
  useEffect(() => {
    api<Report>("/api/dataset").then(setReport, (e) => setError(e.message));
  }, [props.modelVersion]);
  if (error) return <div class="error" role="alert">{error}</div>;
  if (!report) return <p class="note">Loading the dataset report…</p>;
  const max = Math.max(...report.classes.map((c) => c.before));
  const shown = report.classes.find((c) => String(c.index) === cls);
  const available = shown ? (kind === "kept" ? shown.after : shown.removed) : report[kind];
  return (
    <section>
      <div class="card">
        <h2>Sprites per class, before and after cleaning</h2>
        <p class="note">
          {report.total} sprites, {report.removed} removed by the cleaning rule, {report.kept} kept
        </p>
        <div class="hist">
          {report.classes.map((c) => (
            <div class="row" key={c.index}>
              <span>
                {c.name}
                <br />
                <span class="note">{c.before} → {c.after}</span>
              </span>
              <div>
                <div class="bar before" style={{ width: `${(100 * c.before) / max}%` }} />
                <div class="bar after" style={{ width: `${(100 * c.after) / max}%` }} />
              </div>
            </div>
          ))}
        </div>
      </div>
      <div class="card examples">
        <h2 id="examples-title">{kind === "kept" ? "Kept sprites" : "Removed sprites"}</h2>
        <div class="controls">
          <fieldset class="toggle" aria-label="which sprites">
            {(["removed", "kept"] as const).map((k) => (
              <label key={k}>
                <input
                  type="radio"
                  name="kind"
                  value={k}
                  checked={kind === k}
                  onChange={() => props.setView({ kind: k, cls })}
                />
                {k}
              </label>
            ))}
          </fieldset>
          <select
            name="class"
            value={cls}
            onChange={(e) => props.setView({ kind, cls: (e.target as HTMLSelectElement).value })}
          >
            <option value="">all classes</option>
            {report.classes.map((c) => (
              <option value={String(c.index)} key={c.index}>{c.name}</option>
            ))}
          </select>
          <span class="note">
            {Math.min(32, available)} of {available} {kind} {shown ? shown.name : ""} sprites
          </span>
        </div>
        <img
          class="pixel examples"
          src={`/api/dataset/examples.png?kind=${kind}&count=32${cls ? `&class=${cls}` : ""}`}
          alt={`${kind} sprites`}
        />
      </div>
    </section>
  );
}
