/** @jsxImportSource preact */
/** @jsxRuntime automatic */
// The Quality tab: measures the served model on the server (POST /api/quality, the evaluation
// `deno task eval` runs, judged by the classifier beside the model), follows its progress
// (/api/quality/events), then shows the table `deno task eval` prints (the same cells,
// gpu/eval/table.ts) and the two montages of the last finished evaluation.
import { useEffect, useRef, useState } from "preact/hooks";
import type { EvalReport } from "../gpu/eval/evaluate.ts";
import { classTable } from "../gpu/eval/table.ts";
import { api, readEvents } from "./api.ts";

interface Progress {
  done: number;
  total: number;
  phase: string;
}

/** GET /api/quality (routes/gpu_protocol.ts's QualityView). */
interface QualityView {
  status: "idle" | "running" | "done" | "failed";
  model: string | null;
  progress: Progress | null;
  report: (EvalReport & { model: string }) | null;
  error: string | null;
}

const DEFAULT_PER_CLASS = 16;
const MAX_PER_CLASS = 64;

export function QualityTab(props: { modelVersion: number }) {
  const [view, setView] = useState<QualityView | undefined>();
  const [perClass, setPerClass] = useState(DEFAULT_PER_CLASS);
  const [error, setError] = useState("");
  // Bumped when an evaluation ends, so the montages are fetched again.
  const [finished, setFinished] = useState(0);
  const following = useRef<AbortController | undefined>(undefined);

  const follow = () => {
    following.current?.abort();
    const abort = new AbortController();
    following.current = abort;
    readEvents("/api/quality/events", (name, data) => {
      if (name === "state") setView(data as QualityView);
      else if (name === "progress") {
        setView((v) => v && { ...v, status: "running", progress: data as Progress });
      } else if (name === "end") {
        setView(data as QualityView);
        setFinished((n) => n + 1);
      }
    }, { signal: abort.signal }).catch(() => {});
  };

  useEffect(() => {
    api<QualityView>("/api/quality").then((v) => {
      setView(v);
      if (v.status === "running") follow();
    }, (e) => setError((e as Error).message));
    return () => following.current?.abort();
  }, [props.modelVersion]);

  const measure = async () => {
    setError("");
    try {
      const v = await api<QualityView>("/api/quality", {
        method: "POST",
        body: JSON.stringify({ per_class: perClass }),
      });
      setView(v);
      follow();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const running = view?.status === "running";
  const p = view?.progress;
  const report = view?.report;
  return (
    <section>
      <div class="card">
        <h2>Measured quality of the served model</h2>
        <p class="note">
          Sprites generated per class with fixed seeds, judged by the classifier kept beside the
          model (made by{" "}
          <code>deno task eval</code>): how many read as their class, FID against the real sprites
          beside its floor, near-copies of training sprites, diversity and clean backgrounds.
        </p>
        <div class="controls">
          <label>
            sprites per class
            <input
              type="number"
              id="quality-per-class"
              min={2}
              max={MAX_PER_CLASS}
              value={perClass}
              onInput={(e) => setPerClass(Number((e.target as HTMLInputElement).value))}
            />
          </label>
          <button type="button" class="primary" id="measure" disabled={running} onClick={measure}>
            Measure
          </button>
          {error && <span class="field-error" id="quality-error" role="alert">{error}</span>}
        </div>
        {running && p && (
          <div class="request-progress" id="quality-status">
            <progress id="quality-progress" max={p.total} value={p.done} />
            <span class="note">{p.phase} ({p.done}/{p.total})</span>
          </div>
        )}
        {view?.status === "failed" && (
          <div class="error" role="alert">The evaluation failed: {view.error}</div>
        )}
      </div>
      {report && <Report report={report} version={finished} />}
    </section>
  );
}

/** The table's column groups over classTable's header (two columns there are both "real"). */
function groups(r: EvalReport): [string, number][] {
  return [
    ["", 2],
    ["consistency", r.consistency.length],
    ["FID", 2],
    ["near-copies", 3],
    ["diversity", 3],
    ...(r.backgrounds ? [["backgrounds", 2] as [string, number]] : []),
  ];
}

function Report(props: { report: EvalReport & { model: string }; version: number }) {
  const r = props.report;
  const s = r.settings;
  const { header, rows } = classTable(r);
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  return (
    <>
      <div class="card">
        <h2>Quality of {r.model}</h2>
        <p class="note" id="quality-settings">
          {s.perClass} sprites per class, DDIM {s.steps} steps, eta 0, seed{" "}
          {s.seed}; FID, copies, diversity and backgrounds at guidance{" "}
          {s.mainGuidance}; the classifier reads its held-out sprites at{" "}
          {pct(r.judge.heldOut.accuracy)}; {r.seconds.toFixed(0)} s
        </p>
        <table class="quality" id="quality-table">
          <thead>
            <tr class="groups">
              {groups(r).map(([label, span], i) => <th colSpan={span} key={i}>{label}</th>)}
            </tr>
            <tr>{header.map((h, i) => <th key={i}>{h}</th>)}</tr>
          </thead>
          <tbody>
            {rows.map((row, i) => <tr key={i}>{row.map((cell, j) => <td key={j}>{cell}</td>)}</tr>)}
          </tbody>
        </table>
        <p class="note">
          judge: the classifier's held-out accuracy. cons: share read as the class asked for. FID:
          classifier features, generated vs half the real sprites; floor: as many real sprites of
          the other half. copies: share near a training sprite; real: the held-out sprites' own
          share. div: mean pairwise distance, generated and real. clean bg: share passing the
          cleaning rule.
        </p>
      </div>
      <div class="card">
        <h2>Samples (a row per class)</h2>
        <img
          class="pixel"
          id="quality-samples"
          src={`/api/quality/samples.png?v=${props.version}`}
          alt="generated sprites, a row per class"
        />
        <h2>Nearest training sprites (generated above, closest first)</h2>
        <img
          class="pixel"
          id="quality-nearest"
          src={`/api/quality/nearest.png?v=${props.version}`}
          alt="generated sprites over their nearest training sprites"
        />
      </div>
    </>
  );
}
