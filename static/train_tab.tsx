/** @jsxImportSource preact */
/** @jsxRuntime automatic */
// The training tab: what a job would run (a fine-tune of the served model by default, or a new
// model from a preset), the job's recipe and live loss chart, a preview grid of its checkpoint,
// serving it with the previous model one click away, and the served model's own training history.
// On a server started with --token the token is asked for once (kept for this tab's session) and
// sent as a header with every training request, the event stream included.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, imageUrl, readEvents, savedToken, saveToken } from "./api.ts";
import { type ChartMark, formatLr, historyMarks, LossChart } from "./loss_chart.tsx";

interface Recipe {
  batch: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  loss: string;
  dropout: number;
  embDropout: number;
  freezeEpoch: number;
  maskProb: number;
  seed: number;
  precision: string;
}

interface Plan {
  start: "serving" | "scratch";
  base: string;
  config: string;
  recipe: Recipe;
  precision: string;
  note: string | null;
}

interface Progress {
  step: number;
  epoch: number;
  stepsPerEpoch: number;
  totalSteps: number;
  loss: number | null;
  itPerSec: number | null;
  etaSeconds: number | null;
}

interface Job {
  status: string;
  start?: "serving" | "scratch";
  base?: string;
  recipe?: Recipe;
  note?: string | null;
  run?: string;
  checkpoint?: string;
  progress?: Progress;
  losses?: { step: number; loss: number }[];
  error?: string | null;
}

interface History {
  source: string;
  epochs: {
    epoch: number;
    step: number;
    mean_loss: number;
    lr: number | null;
    embedding_frozen: boolean | null;
  }[];
}

const active = (j: Job) => j.status === "running" || j.status === "stopping";
const finished = (j: Job) => j.status === "done" || j.status === "stopped";

/** The recipe in one line, as the job runs it. */
export function recipeLine(start: string | undefined, base: string | undefined, r: Recipe): string {
  const from = start === "scratch" ? `new model (${base})` : `fine-tune of ${base}`;
  const frozen = r.freezeEpoch === 0
    ? "embedding frozen from the start"
    : `embedding frozen after epoch ${r.freezeEpoch}`;
  return [
    from,
    `batch ${r.batch}`,
    `${r.epochs} epoch${r.epochs === 1 ? "" : "s"}`,
    `lr ${formatLr(r.lr)}`,
    frozen,
    `mask ${r.maskProb}`,
    `dropout ${r.dropout}/${r.embDropout}`,
    `seed ${r.seed}`,
    r.precision,
  ].join(" · ");
}

/** The job's chart marks: where its embedding freezes (if within the run) and its lr. */
function jobMarks(job: Job): ChartMark[] {
  const r = job.recipe;
  const p = job.progress;
  if (!r || !p) return [];
  const marks: ChartMark[] = [{ step: 0, kind: "lr", label: `lr ${formatLr(r.lr)}` }];
  const freezeStep = r.freezeEpoch * p.stepsPerEpoch;
  if (freezeStep <= p.totalSteps) {
    marks.push({
      step: freezeStep,
      kind: "freeze",
      label: r.freezeEpoch === 0
        ? "embedding frozen"
        : `embedding frozen (epoch ${r.freezeEpoch + 1})`,
    });
  }
  return marks;
}

const FORM_FIELDS = ["epochs", "batch", "lr", "max_steps"] as const;
type Form = Record<(typeof FORM_FIELDS)[number], string>;

export function TrainTab(props: { onModelChange: () => void }) {
  const [needsToken, setNeedsToken] = useState<"" | "ask" | "refused">("");
  const [tokenText, setTokenText] = useState("");
  const [job, setJob] = useState<Job>({ status: "idle" });
  const [error, setError] = useState("");
  const [start, setStart] = useState<"serving" | "scratch">("serving");
  const [preset, setPreset] = useState("compact");
  const [form, setForm] = useState<Form>({ epochs: "", batch: "", lr: "", max_steps: "50" });
  const [plan, setPlan] = useState<Plan | undefined>();
  const [planError, setPlanError] = useState("");
  const [preview, setPreview] = useState<{ url: string; checkpoint: string } | undefined>();
  const [swap, setSwap] = useState<{ serving: string; previous: string | null } | undefined>();
  const [history, setHistory] = useState<History | undefined>();
  const [ready, setReady] = useState(false);
  const following = useRef<AbortController | undefined>(undefined);

  /** A training call; a 401 asks for the token (again). */
  const call = async <T,>(path: string, init?: RequestInit): Promise<T> => {
    try {
      return await api<T>(path, init);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setNeedsToken(savedToken() ? "refused" : "ask");
      }
      throw e;
    }
  };

  const follow = () => {
    following.current?.abort();
    const abort = new AbortController();
    following.current = abort;
    readEvents("/api/train/events", (name, data) => {
      if (name === "state" || name === "end") setJob(data as Job);
      else if (name === "progress") {
        const p = data as Progress;
        setJob((j) => ({
          ...j,
          progress: p,
          losses: p.loss === null
            ? j.losses
            : [...(j.losses ?? []), { step: p.step, loss: p.loss }],
        }));
      }
    }, { signal: abort.signal }).catch(() => {});
  };

  const loadHistory = () =>
    api<History>("/api/model/log").then(setHistory, () => setHistory(undefined));

  const connect = async () => {
    try {
      const j = await call<Job>("/api/train");
      setNeedsToken("");
      setReady(true);
      setJob(j);
      if (active(j)) follow();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setError((e as Error).message);
    }
  };
  useEffect(() => {
    connect();
    loadHistory();
    return () => following.current?.abort();
  }, []);

  // What would run: asked of the server's own parser as the form changes.
  useEffect(() => {
    if (!ready) return;
    const q = new URLSearchParams({ start });
    if (start === "scratch") q.set("config", preset);
    for (const k of ["epochs", "batch", "lr"] as const) {
      if (form[k].trim()) q.set(k, form[k].trim());
    }
    const timer = setTimeout(() => {
      call<Plan>(`/api/train/recipe?${q}`).then((p) => {
        setPlan(p);
        setPlanError("");
      }, (e) => setPlanError((e as Error).message));
    }, 200);
    return () => clearTimeout(timer);
  }, [ready, start, preset, form.epochs, form.batch, form.lr]);

  // A finished job's checkpoint is shown before it can be served.
  useEffect(() => {
    if (!finished(job) || !job.checkpoint || preview?.checkpoint === job.checkpoint) return;
    imageUrl("/api/train/preview.png?per_class=4&steps=10&seed=1&guidance=2").then(
      (url) => setPreview({ url, checkpoint: job.checkpoint! }),
      (e) => setError((e as Error).message),
    );
  }, [job.status, job.checkpoint]);

  const act = async <T,>(path: string, method: string, body?: unknown): Promise<T | undefined> => {
    setError("");
    try {
      return await call<T>(path, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      setError((e as Error).message);
      return undefined;
    }
  };

  const startJob = async () => {
    const body: Record<string, unknown> = { start };
    if (start === "scratch") body.config = preset;
    for (const k of FORM_FIELDS) if (form[k].trim()) body[k] = Number(form[k]);
    // A short job reads its loss back often enough to draw a curve (20 readings or more).
    const steps = Number(form.max_steps);
    if (Number.isInteger(steps) && steps > 0) {
      body.log_every = Math.max(1, Math.min(10, Math.floor(steps / 20)));
    }
    const j = await act<Job>("/api/train", "POST", body);
    if (j) {
      setJob(j);
      setPreview(undefined);
      follow();
    }
  };

  const swapTo = async (path: "/api/train/swap" | "/api/train/revert") => {
    const s = await act<{ serving: string; previous: string | null }>(path, "POST");
    if (s) {
      setSwap(s);
      props.onModelChange();
      loadHistory();
    }
  };

  if (needsToken) {
    return (
      <section>
        <form
          class="card token"
          onSubmit={(e) => {
            e.preventDefault();
            saveToken(tokenText.trim());
            connect();
          }}
        >
          <h2>This server's training needs its token</h2>
          <p class="note">
            It was started with{" "}
            <code>--token</code>. The token is sent as an Authorization header and kept for this tab
            only.
          </p>
          {needsToken === "refused" && (
            <div class="error" role="alert">That token was not accepted.</div>
          )}
          <label>
            token
            <input
              type="password"
              name="token"
              autoComplete="off"
              value={tokenText}
              onInput={(e) => setTokenText((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" class="primary" id="use-token">Use token</button>
        </form>
      </section>
    );
  }

  const p = job.progress;
  const fieldError = (k: string) =>
    planError && planError.includes(`: ${k} `) ? planError : undefined;
  return (
    <section>
      <div class="card">
        <h2>New training job</h2>
        <div class="controls">
          <fieldset class="start">
            <label>
              <input
                type="radio"
                name="start"
                value="serving"
                checked={start === "serving"}
                onChange={() => setStart("serving")}
              />
              fine-tune the served model
            </label>
            <label>
              <input
                type="radio"
                name="start"
                value="scratch"
                checked={start === "scratch"}
                onChange={() => setStart("scratch")}
              />
              from scratch, preset
              <select
                name="preset"
                value={preset}
                disabled={start !== "scratch"}
                onChange={(e) => setPreset((e.target as HTMLSelectElement).value)}
              >
                <option value="compact">compact</option>
                <option value="reference">reference</option>
              </select>
            </label>
          </fieldset>
          {FORM_FIELDS.map((k) => (
            <label key={k} class={fieldError(k) ? "invalid" : ""}>
              {k.replace("_", " ")}
              <input
                name={`train-${k}`}
                value={form[k]}
                placeholder={k === "max_steps"
                  ? "all"
                  : !plan
                  ? ""
                  : k === "lr"
                  ? formatLr(plan.recipe.lr)
                  : String(plan.recipe[k])}
                onInput={(e) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value })}
              />
              {fieldError(k) && <span class="field-error">{fieldError(k)}</span>}
            </label>
          ))}
          <button
            type="button"
            class="primary"
            id="start-job"
            disabled={active(job) || !!planError}
            onClick={startJob}
          >
            Start
          </button>
          <button
            type="button"
            id="stop-job"
            disabled={!active(job)}
            onClick={() => act("/api/train", "DELETE")}
          >
            Stop
          </button>
        </div>
        <p class="note" id="plan-recipe">
          {planError
            ? <span class="field-error">{planError}</span>
            : plan
            ? `will run: ${recipeLine(plan.start, plan.base, plan.recipe)}${
              plan.note ? ` — ${plan.note}` : ""
            }`
            : "…"}
        </p>
      </div>
      {error && <div class="error" role="alert">{error}</div>}
      {job.status !== "idle" && (
        <div class="card job">
          <h2>Job {job.run}</h2>
          {job.recipe && (
            <p class="note" id="job-recipe">{recipeLine(job.start, job.base, job.recipe)}</p>
          )}
          {job.note && <p class="note">{job.note}</p>}
          <p id="train-status">
            {job.status}
            {p &&
              ` · step ${p.step}/${p.totalSteps} · epoch ${
                Math.min(p.epoch + 1, job.recipe?.epochs ?? p.epoch + 1)
              }`}
            {p?.loss != null && ` · loss ${p.loss.toFixed(4)}`}
            {p?.itPerSec != null && ` · ${p.itPerSec.toFixed(2)} it/s`}
            {active(job) && p?.etaSeconds != null && ` · ETA ${Math.round(p.etaSeconds)} s`}
            {job.error && ` · ${job.error}`}
          </p>
          {p && <progress id="train-progress" max={p.totalSteps} value={p.step} />}
          <LossChart
            kind="job"
            title="This job's loss"
            points={job.losses ?? []}
            lastStep={p?.totalSteps}
            marks={jobMarks(job)}
          />
          {finished(job) && (
            <div class="preview">
              <h3>Its checkpoint, {job.checkpoint}: 4 per class, seed 1, guidance 2</h3>
              {preview && preview.checkpoint === job.checkpoint
                ? (
                  <img
                    class="pixel"
                    id="preview-grid"
                    src={preview.url}
                    alt="preview of the checkpoint"
                  />
                )
                : <p class="note">making a preview grid…</p>}
              <p>
                <button
                  type="button"
                  class="primary"
                  id="serve-checkpoint"
                  disabled={preview?.checkpoint !== job.checkpoint ||
                    swap?.serving === job.checkpoint}
                  onClick={() => swapTo("/api/train/swap")}
                >
                  Serve this checkpoint
                </button>
              </p>
            </div>
          )}
        </div>
      )}
      {swap && (
        <div class="card swapped" id="swap-note" role="status">
          <p>
            Now serving <strong>{swap.serving}</strong>
            {swap.previous ? ` (before it: ${swap.previous}). ` : ". "}
            The sprites tab makes its grids with it.
          </p>
          {swap.previous && (
            <button
              type="button"
              id="revert-model"
              onClick={() => swapTo("/api/train/revert")}
            >
              Back to {swap.previous}
            </button>
          )}
        </div>
      )}
      {history && history.epochs.length > 1 && (
        <div class="card">
          <LossChart
            kind="history"
            title={`How ${history.source} was trained: mean loss per epoch`}
            points={history.epochs.map((e) => ({ step: e.step, loss: e.mean_loss }))}
            marks={historyMarks(history.epochs)}
          />
        </div>
      )}
    </section>
  );
}
