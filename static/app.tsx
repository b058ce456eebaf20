/** @jsxImportSource preact */
/** @jsxRuntime automatic */
// The page: one sprite grid per class with the sampling controls, a class-mix panel, the dataset
// report, and (when the server allows it) a training job with its live loss curve. Sprites are made
// on this device (static/engine.ts: the served model's files on the page's own WebGPU) where the
// browser gives an adapter, else by the server; a switch picks either. An exported site
// (cli/export_site.ts) has no server: its index.html names the model folder, and the page runs on
// the device only. Bundled into static/app.js by `deno bundle --platform browser`.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { spriteGrid } from "../data/png.ts";
import {
  loadOnDevice,
  type OnDevice,
  type OnDeviceSprites,
  SERVER_MODEL_URL,
  webGpuAdapter,
} from "./engine.ts";

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

/** Where sprites are made: "device" (this browser's WebGPU) or "server" (/api/generate). */
type Mode = "device" | "server";

/** The on-device engine: being loaded, ready, or not available here (and why). */
type Engine =
  | { state: "loading" }
  | { state: "ready"; device: OnDevice }
  | { state: "unavailable"; reason: string };

/** An exported site's index.html names its model folder; the server's page has no such tag. */
function siteConfig(): { model: string } | undefined {
  const tag = document.getElementById("sprite-site");
  return tag ? JSON.parse(tag.textContent ?? "{}") : undefined;
}

/** The server's grid as a PNG data URL, laid out by the same code (data/png.ts's spriteGrid). */
function gridDataUrl({ sprites, size, request }: OnDeviceSprites): string {
  const g = spriteGrid(sprites, request.rows, request.cols, request.scale, {
    spriteHeight: size,
    spriteWidth: size,
  });
  const canvas = document.createElement("canvas");
  canvas.width = g.width;
  canvas.height = g.height;
  const context = canvas.getContext("2d")!;
  const image = context.createImageData(g.width, g.height);
  for (let p = 0; p < g.width * g.height; p++) {
    image.data.set(g.rgb.subarray(p * 3, p * 3 + 3), p * 4);
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return canvas.toDataURL("image/png");
}

/** One grid: on the device (progress after every step) or from the server. */
async function makeGrid(
  engine: OnDevice | undefined,
  body: Record<string, unknown>,
  onProgress: (fraction: number) => void,
): Promise<GridResult> {
  if (!engine) return generate(body);
  const made = await engine.generate(body, (done, total) => onProgress(done / total));
  return { grid: gridDataUrl(made), ms: made.ms };
}

const replaced = <T,>(list: readonly T[], i: number, value: T): T[] => {
  const next = [...list];
  next[i] = value;
  return next;
};

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

function SpritesTab({ classes, engine }: { classes: ClassInfo[]; engine?: OnDevice }) {
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
  // The last run's time, and where it ran.
  const [total, setTotal] = useState<{ ms: number; where: string } | null>(null);
  const [mix, setMix] = useState<number[]>(classes.map((_, i) => (i < 2 ? 0.5 : 0)));
  const [mixed, setMixed] = useState<GridResult | undefined>();
  // Per grid: steps done / steps (on the device), null while the server works, undefined at rest.
  const [progress, setProgress] = useState<(number | null | undefined)[]>([]);
  // A newer run makes an older one's remaining grids moot.
  const latest = useRef(0);

  async function run(s: Settings) {
    const id = ++latest.current;
    const current = () => id === latest.current;
    setBusy(true);
    setError("");
    const started = performance.now();
    const body = (c: ClassInfo) => ({ class: c.index, count: Number(s.count), ...numbersOf(s) });
    try {
      if (engine) {
        // One grid after another on the device, each shown as soon as it is done.
        setProgress(classes.map(() => 0));
        for (const [i, c] of classes.entries()) {
          if (!current()) return;
          const grid = await makeGrid(engine, body(c), (f) => {
            if (current()) setProgress((p) => replaced(p, i, f));
          });
          if (!current()) return;
          setGrids((g) => replaced(g, i, grid));
          setProgress((p) => replaced(p, i, undefined));
        }
      } else {
        // Sent together, so the server merges them into one GPU pass.
        setProgress(classes.map(() => null));
        setGrids(await Promise.all(classes.map((c) => generate(body(c)))));
      }
      const ms = Math.round(performance.now() - started);
      if (current()) setTotal({ ms, where: engine ? "on this device" : "on the server" });
    } catch (e) {
      if (current()) setError((e as Error).message);
    } finally {
      if (current()) {
        setBusy(false);
        setProgress([]);
      }
    }
  }

  async function runMix() {
    setError("");
    try {
      setMixed(await makeGrid(engine, { labels: mix, count: 8, ...numbersOf(settings) }, () => {}));
    } catch (e) {
      setError((e as Error).message);
    }
  }

  // Again whenever the mode changes: the grids are then the other side's.
  useEffect(() => {
    run(settings);
  }, [engine]);
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
          {busy
            ? "generating…"
            : total !== null
            ? `${total.ms} ms for ${classes.length} grids ${total.where}`
            : ""}
        </span>
      </div>
      {error && <div class="error" role="alert">{error}</div>}
      <div class="grids">
        {classes.map((c, i) => (
          <div class="card" key={c.index}>
            <h2>{c.index} {c.name}</h2>
            {progress[i] !== undefined && (
              <progress
                class="grid-progress"
                data-class={c.name}
                max={1}
                value={progress[i] ?? undefined}
              />
            )}
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
  const site = siteConfig();
  const [classes, setClasses] = useState<ClassInfo[] | undefined>();
  const [training, setTraining] = useState(false);
  const [model, setModel] = useState("");
  const [tab, setTab] = useState("sprites");
  const [error, setError] = useState("");
  const [engine, setEngine] = useState<Engine>({ state: "loading" });
  const [mode, setMode] = useState<Mode | undefined>();
  useEffect(() => {
    if (!site) {
      api<{ classes: ClassInfo[] }>("/api/classes").then(
        (r) => setClasses(r.classes),
        (e) => setError(e.message),
      );
      api<{ training: boolean; adapter: string }>("/api/health").then((h) => {
        setTraining(h.training);
        setModel(h.adapter);
      }, () => {});
    }
    (async () => {
      if (!await webGpuAdapter()) {
        return setEngine({ state: "unavailable", reason: "this browser gives no WebGPU adapter" });
      }
      const device = await loadOnDevice(site?.model ?? SERVER_MODEL_URL);
      setEngine({ state: "ready", device });
      if (site) setClasses(device.model.classNames.map((name, index) => ({ index, name })));
    })().catch((e) => setEngine({ state: "unavailable", reason: (e as Error).message }));
  }, []);
  // On the device by default where it can; the server's page falls back to the server.
  useEffect(() => {
    if (engine.state !== "loading" && mode === undefined) {
      setMode(engine.state === "ready" ? "device" : "server");
    }
  }, [engine]);
  const ready = engine.state === "ready" ? engine.device : undefined;
  const onDevice = mode === "device" && ready ? ready : undefined;
  const tabs = [
    ["sprites", "Sprites"],
    ...(site ? [] : [["dataset", "Dataset"]]),
    ...(training ? [["train", "Training"]] : []),
  ];
  return (
    <>
      <h1>Sprite Diffusion</h1>
      <p class="note">{onDevice ? `on this device: ${onDevice.gpu.description}` : model}</p>
      <div class="mode">
        <label>
          <input
            type="checkbox"
            id="on-device"
            checked={mode === "device"}
            disabled={!ready || Boolean(site)}
            onChange={(e) => setMode((e.target as HTMLInputElement).checked ? "device" : "server")}
          />
          run on this device
        </label>
        <span class="note" id="engine-note">
          {engine.state === "loading"
            ? "loading the model for this device…"
            : engine.state === "unavailable"
            ? `${site ? "no WebGPU here" : "on the server"}: ${engine.reason}`
            : site
            ? "a static site: sprites are made in this browser only"
            : "or on the server, unticked"}
        </span>
      </div>
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
      {site && engine.state === "unavailable" && (
        <div class="error" role="alert">
          This site makes its sprites with WebGPU, and there is none here ({engine.reason}). Current
          Chrome and Edge have it, as do Safari 26 and Firefox 141 on Windows; elsewhere it may be
          behind a flag.
        </div>
      )}
      {tab === "sprites" && classes && mode && (!site || onDevice) && (
        <SpritesTab classes={classes} engine={onDevice} />
      )}
      {tab === "dataset" && <DatasetTab />}
      {tab === "train" && <TrainTab />}
    </>
  );
}

render(<App />, document.getElementById("app")!);
