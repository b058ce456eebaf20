/** @jsxImportSource preact */
/** @jsxRuntime automatic */
// The page: one sprite grid per class with the sampling controls, a class-mix panel, the dataset
// report, and (when the server allows it) a training job with its live loss curve. Everything
// comes from our own API; bundled into static/app.js by `deno bundle --platform browser`.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

interface ClassInfo {
  index: number;
  name: string;
}

interface Settings {
  count: string;
  steps: string;
  eta: string;
  seed: string;
  guidance: string;
}

/** Fetches JSON; an error answer becomes an Error carrying the API's `detail`. */
async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    if (!res.ok) throw new Error(`${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new Error(`${body.error ?? res.status}: ${body.detail ?? text}`);
  return body as T;
}

function numbersOf(s: Settings) {
  return {
    steps: Number(s.steps),
    eta: Number(s.eta),
    seed: Number(s.seed),
    guidance: Number(s.guidance),
  };
}

interface GridResult {
  grid: string;
  ms: number;
}

function generate(body: Record<string, unknown>): Promise<GridResult> {
  return api<GridResult>("/api/generate", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, format: "json" }),
  });
}

function Field(
  props: { label: string; name: keyof Settings; settings: Settings; set: (s: Settings) => void },
) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        inputMode="decimal"
        value={props.settings[props.name]}
        onChange={(e) =>
          props.set({ ...props.settings, [props.name]: (e.target as HTMLInputElement).value })}
      />
    </label>
  );
}

function SpritesTab({ classes }: { classes: ClassInfo[] }) {
  const [settings, setSettings] = useState<Settings>({
    count: "4",
    steps: "10",
    eta: "0",
    seed: "1",
    guidance: "1",
  });
  const [grids, setGrids] = useState<(GridResult | undefined)[]>([]);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [total, setTotal] = useState<number | null>(null);
  const [mix, setMix] = useState<number[]>(classes.map((_, i) => (i < 2 ? 0.5 : 0)));
  const [mixed, setMixed] = useState<GridResult | undefined>();

  async function run(s: Settings) {
    setBusy(true);
    setError("");
    const started = performance.now();
    try {
      // Sent together, so the server merges them into one GPU pass.
      const results = await Promise.all(
        classes.map((c) => generate({ class: c.index, count: Number(s.count), ...numbersOf(s) })),
      );
      setGrids(results);
      setTotal(Math.round(performance.now() - started));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  async function runMix() {
    setError("");
    try {
      setMixed(await generate({ labels: mix, count: 8, ...numbersOf(settings) }));
    } catch (e) {
      setError((e as Error).message);
    }
  }

  useEffect(() => {
    run(settings);
  }, []);
  const update = (s: Settings) => {
    setSettings(s);
    run(s);
  };

  return (
    <section>
      <div class="controls">
        <Field label="per class" name="count" settings={settings} set={update} />
        <Field label="steps" name="steps" settings={settings} set={update} />
        <Field label="eta" name="eta" settings={settings} set={update} />
        <Field label="seed" name="seed" settings={settings} set={update} />
        <Field label="guidance" name="guidance" settings={settings} set={update} />
        <button
          type="button"
          class="primary"
          id="new-seed"
          onClick={() => update({ ...settings, seed: String(Math.floor(Math.random() * 1e6)) })}
        >
          New seed
        </button>
        <span class="note" id="timing">
          {busy ? "generating…" : total !== null ? `${total} ms for ${classes.length} grids` : ""}
        </span>
      </div>
      {error && <div class="error" role="alert">{error}</div>}
      <div class="grids">
        {classes.map((c, i) => (
          <div class="card" key={c.index}>
            <h2>{c.index} {c.name}</h2>
            {grids[i]
              ? (
                <>
                  <img class="sprites" data-class={c.name} src={grids[i]!.grid} alt={c.name} />
                  <div class="note">{grids[i]!.ms} ms</div>
                </>
              )
              : <div class="note">…</div>}
          </div>
        ))}
      </div>
      <div class="card mix">
        <h2>Class mix</h2>
        {classes.map((c, i) => (
          <div class="slider" key={c.index}>
            <span>{c.name}</span>
            <input
              type="range"
              min="0"
              max="1"
              step="0.05"
              value={mix[i]}
              onInput={(e) => {
                const next = [...mix];
                next[i] = Number((e.target as HTMLInputElement).value);
                setMix(next);
              }}
            />
            <span>{mix[i].toFixed(2)}</span>
          </div>
        ))}
        <p>
          <button type="button" class="primary" onClick={runMix}>Generate mixture</button>
        </p>
        {mixed && (
          <>
            <img class="sprites" id="mix-grid" src={mixed.grid} alt="mixture" />
            <div class="note">{mixed.ms} ms</div>
          </>
        )}
      </div>
    </section>
  );
}

interface Report {
  total: number;
  kept: number;
  removed: number;
  classes: { index: number; name: string; before: number; after: number; removed: number }[];
}

function DatasetTab() {
  const [report, setReport] = useState<Report | undefined>();
  const [error, setError] = useState("");
  const [cls, setCls] = useState("");
  useEffect(() => {
    api<Report>("/api/dataset").then(setReport, (e) => setError(e.message));
  }, []);
  if (error) return <div class="error" role="alert">{error}</div>;
  if (!report) return <p class="note">Loading the dataset report…</p>;
  const max = Math.max(...report.classes.map((c) => c.before));
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
      <div class="card" style={{ marginTop: "10px" }}>
        <h2>Removed sprites</h2>
        <select value={cls} onChange={(e) => setCls((e.target as HTMLSelectElement).value)}>
          <option value="">all classes</option>
          {report.classes.map((c) => <option value={String(c.index)} key={c.index}>{c.name}
          </option>)}
        </select>
        <img
          class="pixel"
          style={{ marginTop: "8px", maxWidth: "100%" }}
          src={`/api/dataset/examples.png?kind=removed&count=32${cls ? `&class=${cls}` : ""}`}
          alt="removed sprites"
        />
      </div>
    </section>
  );
}

interface TrainState {
  status: string;
  checkpoint?: string;
  progress?: {
    step: number;
    epoch: number;
    totalSteps: number;
    loss: number | null;
    itPerSec: number | null;
    etaSeconds: number | null;
  };
  losses?: { step: number; loss: number }[];
  error?: string | null;
}

function LossCurve({ losses }: { losses: { step: number; loss: number }[] }) {
  if (losses.length < 2) return <p class="note">The loss curve appears after two readings.</p>;
  const maxStep = losses[losses.length - 1].step;
  const top = Math.max(...losses.map((l) => l.loss));
  const points = losses.map((l) => `${(l.step / maxStep) * 400},${200 - (l.loss / top) * 190}`);
  return (
    <svg class="loss" viewBox="0 0 400 200" preserveAspectRatio="none">
      <polyline points={points.join(" ")} fill="none" stroke="#3558d6" stroke-width="2" />
    </svg>
  );
}

function TrainTab() {
  const [state, setState] = useState<TrainState>({ status: "idle" });
  const [error, setError] = useState("");
  const [form, setForm] = useState({ epochs: "1", batch: "32", max_steps: "50" });
  const follow = () => {
    const source = new EventSource("/api/train/events");
    source.addEventListener("state", (e) => setState(JSON.parse((e as MessageEvent).data)));
    source.addEventListener("progress", (e) => {
      const progress = JSON.parse((e as MessageEvent).data);
      setState((s) => ({
        ...s,
        progress,
        losses: [...(s.losses ?? []), { step: progress.step, loss: progress.loss }],
      }));
    });
    source.addEventListener("end", (e) => {
      setState(JSON.parse((e as MessageEvent).data));
      source.close();
    });
  };
  useEffect(follow, []);
  const act = async (method: string, path: string, body?: unknown) => {
    setError("");
    try {
      const s = await api<TrainState>(path, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (method === "POST" && path === "/api/train") {
        setState(s);
        follow();
      }
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const p = state.progress;
  return (
    <section>
      <div class="controls">
        {(["epochs", "batch", "max_steps"] as const).map((k) => (
          <label key={k}>
            {k.replace("_", " ")}
            <input
              value={form[k]}
              onChange={(e) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value })}
            />
          </label>
        ))}
        <button
          type="button"
          class="primary"
          onClick={() =>
            act("POST", "/api/train", {
              epochs: Number(form.epochs),
              batch: Number(form.batch),
              max_steps: Number(form.max_steps),
            })}
        >
          Start
        </button>
        <button type="button" onClick={() => act("DELETE", "/api/train")}>Stop</button>
        <button type="button" onClick={() => act("POST", "/api/train/swap")}>
          Serve this checkpoint
        </button>
      </div>
      {error && <div class="error" role="alert">{error}</div>}
      <p id="train-status">
        {state.status}
        {p && ` · step ${p.step}/${p.totalSteps} · epoch ${p.epoch + 1}`}
        {p?.loss != null && ` · loss ${p.loss.toFixed(4)}`}
        {p?.itPerSec != null && ` · ${p.itPerSec.toFixed(2)} it/s`}
        {p?.etaSeconds != null && ` · ETA ${Math.round(p.etaSeconds)} s`}
        {state.error && ` · ${state.error}`}
      </p>
      <LossCurve losses={state.losses ?? []} />
      {state.checkpoint && <p class="note">checkpoint: {state.checkpoint}</p>}
    </section>
  );
}

function App() {
  const [classes, setClasses] = useState<ClassInfo[] | undefined>();
  const [training, setTraining] = useState(false);
  const [model, setModel] = useState("");
  const [tab, setTab] = useState("sprites");
  const [error, setError] = useState("");
  useEffect(() => {
    api<{ classes: ClassInfo[] }>("/api/classes").then(
      (r) => setClasses(r.classes),
      (e) => setError(e.message),
    );
    api<{ training: boolean; adapter: string }>("/api/health").then((h) => {
      setTraining(h.training);
      setModel(h.adapter);
    }, () => {});
  }, []);
  const tabs = [
    ["sprites", "Sprites"],
    ["dataset", "Dataset"],
    ...(training ? [["train", "Training"]] : []),
  ];
  return (
    <>
      <h1>Sprite Diffusion</h1>
      <p class="note">{model}</p>
      <nav role="tablist">
        {tabs.map(([id, label]) => (
          <button
            type="button"
            role="tab"
            aria-selected={tab === id}
            onClick={() => setTab(id)}
            key={id}
          >
            {label}
          </button>
        ))}
      </nav>
      {error && <div class="error" role="alert">{error}</div>}
      {tab === "sprites" && classes && <SpritesTab classes={classes} />}
      {tab === "dataset" && <DatasetTab />}
      {tab === "train" && <TrainTab />}
    </>
  );
}

render(<App />, document.getElementById("app")!);
