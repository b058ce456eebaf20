/** @jsxImportSource preact */
/** @jsxRuntime automatic */
// The sprites tab: a card per class and the class mix, every sprite drawn at one size (four to a
// row, whatever the count), each card with its own progress bar: steps done of steps, from the
// server's event stream or from this device's engine after every step. The fields are checked as
// they are typed, by the server's own parser with the server's bounds; an error is shown beside
// its field and nothing is sent until it is fixed. A valid change runs again after a short pause
// (Enter or leaving the field runs at once).
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { RequestError } from "../gpu/runtime/errors.ts";
import { parseSamplingRequest, type SamplingLimits } from "../gpu/sample/request.ts";
import { readEvents } from "./api.ts";
import { ON_DEVICE_LIMITS, type OnDevice } from "./engine.ts";
import type { Settings } from "./url_state.ts";

export interface ClassInfo {
  index: number;
  name: string;
}

/** Sprites of the mixture card: two rows of four. */
const MIX_COUNT = 8;
/** A valid edit runs after this pause in typing. */
const TYPING_PAUSE_MS = 450;

/** One card's latest result and how it was made. */
interface Made {
  sprites: string[];
  /** The generation's own time: the server's GPU pass, or this device's run. */
  ms: number;
  where: "server" | "device";
  /** The server's pass: how many requests and sprites shared it, and the wait before it. */
  pass?: { requests: number; sprites: number };
  waitedMs?: number;
  /** Made by the server while it started (the first view's grids), not for this request. */
  prepared?: boolean;
}

/** Where a card's request is: waiting for its pass, steps done of steps, or at rest. */
type Progress = { state: "waiting" } | { state: "running"; done: number; total: number } | null;

interface ServerAnswer {
  sprites: string[];
  ms: number;
  queue_ms: number;
  pass: { requests: number; sprites: number };
  prepared: boolean;
}

/** The fields as the parser reads them (numbers where they are numbers). */
function fieldsOf(s: Settings): Record<string, unknown> {
  const n = (v: string) => (v.trim() === "" ? v : Number(v));
  return {
    count: n(s.count),
    steps: n(s.steps),
    eta: n(s.eta),
    seed: n(s.seed),
    guidance: n(s.guidance),
  };
}

const LABELS: Record<keyof Settings, string> = {
  count: "per class",
  steps: "steps",
  eta: "eta",
  seed: "seed",
  guidance: "guidance",
};

/**
 * Each field's error, as the parser words it ("per class must be in [1, 64], got 65"): the typed
 * text is read as the server reads JSON, with the server's limits (maxWork included).
 */
export function fieldErrors(
  s: Settings,
  limits: SamplingLimits,
): Partial<Record<keyof Settings, string>> {
  const errors: Partial<Record<keyof Settings, string>> = {};
  const keys = Object.keys(LABELS) as (keyof Settings)[];
  const fields = fieldsOf(s);
  const check = (f: Record<string, unknown>) =>
    parseSamplingRequest({ class: 0, ...f }, {
      classNames: ["any"],
      limits,
      forms: ["class"],
      nameOf: (k) => LABELS[k as keyof Settings] ?? k,
    });
  // Each field on its own first, so that every bad one says so at once.
  for (const k of keys) {
    const text = s[k].trim();
    if (text === "") errors[k] = `${LABELS[k]} needs a value`;
    else if (!Number.isFinite(Number(text))) {
      errors[k] = `${LABELS[k]} must be a number, got "${text.slice(0, 20)}"`;
    } else {
      try {
        check({ count: 1, steps: 1, guidance: 1, [k]: fields[k] }); // the least work but its own
      } catch (e) {
        if (!(e instanceof RequestError)) throw e;
        errors[k] = e.message;
      }
    }
  }
  if (Object.keys(errors).length) return errors;
  // Then together: the work one request may ask for names sprites x steps.
  try {
    check(fields);
  } catch (e) {
    if (!(e instanceof RequestError)) throw e;
    errors[keys.find((k) => e.message.startsWith(LABELS[k])) ?? "steps"] = e.message;
  }
  return errors;
}

/** Per-sprite PNG data URLs of uint8 [count, size, size, 3] sprites, drawn at their own size. */
function spriteUrls(sprites: Uint8Array, size: number): string[] {
  const px = size * size * 3;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const context = canvas.getContext("2d")!;
  const out: string[] = [];
  for (let i = 0; i < sprites.length / px; i++) {
    const image = context.createImageData(size, size);
    for (let p = 0; p < size * size; p++) {
      image.data.set(sprites.subarray(i * px + p * 3, i * px + p * 3 + 3), p * 4);
      image.data[p * 4 + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    out.push(canvas.toDataURL("image/png"));
  }
  return out;
}

/** One request, on this device or on the server, reporting its progress. */
async function makeSprites(
  engine: OnDevice | undefined,
  body: Record<string, unknown>,
  onProgress: (p: Progress) => void,
  signal: AbortSignal,
): Promise<Made> {
  if (engine) {
    const made = await engine.generate(body, (done, total) => {
      if (!signal.aborted) onProgress({ state: "running", done, total });
    });
    return { sprites: spriteUrls(made.sprites, made.size), ms: made.ms, where: "device" };
  }
  let answer: ServerAnswer | undefined;
  let failure: string | undefined;
  await readEvents("/api/generate", (name, data) => {
    if (name === "progress") {
      const { done, total } = data as { done: number; total: number };
      onProgress({ state: "running", done, total });
    } else if (name === "result") answer = data as ServerAnswer;
    else if (name === "error") {
      const e = data as { error: string; detail: string };
      failure = `${e.error}: ${e.detail}`;
    }
  }, { body: { ...body, scale: 1, format: "json" }, signal });
  if (failure || !answer) {
    throw new Error(failure ?? "the server closed the stream without sprites");
  }
  return {
    sprites: answer.sprites,
    ms: answer.ms,
    where: "server",
    pass: answer.pass,
    waitedMs: answer.queue_ms,
    prepared: answer.prepared,
  };
}

function ProgressBar({ progress, name }: { progress: Progress; name: string }) {
  if (!progress) return null;
  if (progress.state === "waiting") {
    return (
      <div class="request-progress" data-card={name} data-state="waiting">
        <progress aria-label={`${name}: waiting`} />
        <span class="note">waiting for the GPU</span>
      </div>
    );
  }
  return (
    <div class="request-progress" data-card={name} data-state="running">
      <progress max={progress.total} value={progress.done} aria-label={`${name}: steps`} />
      <span class="note">step {progress.done} of {progress.total}</span>
    </div>
  );
}

function timingOf(m: Made): string {
  if (m.where === "device") return `${m.ms} ms on this device`;
  if (m.prepared) return `ready: made when the server started (${m.ms} ms, compilation included)`;
  const shared = m.pass && m.pass.requests > 1
    ? ` (one pass with ${m.pass.requests - 1} other request${
      m.pass.requests > 2 ? "s" : ""
    }, ${m.pass.sprites} sprites)`
    : "";
  return `${m.ms} ms generating${shared}${m.waitedMs ? `, ${m.waitedMs} ms waiting` : ""}`;
}

/** A card's sprites: four to a row, each drawn at the card's quarter width. */
export function SpriteCard(
  props: {
    name: string;
    title: string;
    made?: Made;
    progress: Progress;
    children?: ComponentChildren;
  },
) {
  return (
    <div class="card sprite-card" data-card={props.name}>
      <h2>{props.title}</h2>
      {props.children}
      <ProgressBar progress={props.progress} name={props.name} />
      {props.made
        ? (
          <>
            <div class={`sprite-grid${props.progress ? " stale" : ""}`}>
              {props.made.sprites.map((src, i) => (
                <img
                  class="sprite"
                  data-class={props.name}
                  data-index={i}
                  src={src}
                  alt={`${props.name} ${i + 1}`}
                  key={i}
                />
              ))}
            </div>
            <div class="note timing">{timingOf(props.made)}</div>
          </>
        )
        : <div class="note">…</div>}
    </div>
  );
}

function Field(
  props: {
    name: keyof Settings;
    settings: Settings;
    error?: string;
    onInput: (s: Settings) => void;
    onCommit: () => void;
  },
) {
  const { name, error } = props;
  return (
    <label class={error ? "invalid" : ""}>
      {LABELS[name]}
      <input
        name={name}
        inputMode="decimal"
        value={props.settings[name]}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? `${name}-error` : undefined}
        onInput={(e) =>
          props.onInput({ ...props.settings, [name]: (e.target as HTMLInputElement).value })}
        onKeyDown={(e) => {
          if (e.key === "Enter") props.onCommit();
        }}
        onBlur={props.onCommit}
      />
      {error && <span class="field-error" id={`${name}-error`}>{error}</span>}
    </label>
  );
}

export function SpritesTab(
  props: {
    classes: ClassInfo[];
    engine?: OnDevice;
    /** The server's bounds (GET /api/health); on a static site, the engine's own. */
    limits?: SamplingLimits;
    settings: Settings;
    setSettings: (s: Settings) => void;
    mix: number[] | null;
    setMix: (m: number[]) => void;
    /** Changes when the served model does (a swap): the grids are made again. */
    modelVersion: number;
  },
) {
  const { classes, engine, settings } = props;
  const limits = props.limits ?? ON_DEVICE_LIMITS;
  const errors = fieldErrors(settings, limits);
  const valid = Object.keys(errors).length === 0;
  const [made, setMade] = useState<Record<string, Made>>({});
  const [progress, setProgress] = useState<Record<string, Progress>>({});
  const [error, setError] = useState("");
  const [summary, setSummary] = useState("");
  const run = useRef<AbortController | undefined>(undefined);
  const mixRun = useRef<AbortController | undefined>(undefined);
  const pause = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const lastRun = useRef("");
  const mix = classes.map((_, i) => props.mix?.[i] ?? (i < 2 ? 0.5 : 0));

  const setOne = <T,>(
    set: (f: (r: Record<string, T>) => Record<string, T>) => void,
    k: string,
    v: T,
  ) => set((r) => ({ ...r, [k]: v }));

  async function runGrids(s: Settings) {
    if (Object.keys(fieldErrors(s, limits)).length) return;
    const key = JSON.stringify([s, engine ? 1 : 0, props.modelVersion, classes]);
    lastRun.current = key;
    run.current?.abort();
    const abort = new AbortController();
    run.current = abort;
    const where = engine ? "on this device" : "on the server";
    setError("");
    setSummary(`generating ${classes.length} grids ${where}…`);
    setProgress(Object.fromEntries(classes.map((c) => [c.name, { state: "waiting" } as Progress])));
    const started = performance.now();
    let done = 0;
    const one = async (c: ClassInfo) => {
      const result = await makeSprites(
        engine,
        { class: c.index, ...fieldsOf(s) },
        (p) => !abort.signal.aborted && setOne(setProgress, c.name, p),
        abort.signal,
      );
      if (abort.signal.aborted) return;
      setOne(setMade, c.name, result);
      setOne(setProgress, c.name, null);
      done++;
      if (done < classes.length) {
        setSummary(`generating: ${done} of ${classes.length} grids done ${where}`);
      }
    };
    try {
      // On the device one grid after another; to the server together, merged into one pass.
      if (engine) {
        for (const c of classes) {
          if (abort.signal.aborted) return; // a newer run has the device now
          await one(c);
        }
      } else await Promise.all(classes.map(one));
      if (!abort.signal.aborted) {
        setSummary(
          `${Math.round(performance.now() - started)} ms for ${classes.length} grids ${where}`,
        );
      }
    } catch (e) {
      if (abort.signal.aborted) return;
      setError((e as Error).message);
      setSummary("");
      setProgress({});
    }
  }

  async function runMix(weights: number[]) {
    if (!valid) return;
    mixRun.current?.abort();
    const abort = new AbortController();
    mixRun.current = abort;
    setOne(setProgress, "mix", { state: "waiting" });
    try {
      const result = await makeSprites(
        engine,
        { labels: weights, ...fieldsOf(settings), count: MIX_COUNT },
        (p) => !abort.signal.aborted && setOne(setProgress, "mix", p),
        abort.signal,
      );
      if (abort.signal.aborted) return;
      setOne(setMade, "mix", result);
    } catch (e) {
      if (!abort.signal.aborted) setError((e as Error).message);
    } finally {
      if (!abort.signal.aborted) setOne(setProgress, "mix", null);
    }
  }

  // Again when the mode or the served model changes: the grids are then another's. A link that
  // carries a mixture makes it too.
  useEffect(() => {
    runGrids(settings);
    if (props.mix) runMix(mix);
  }, [engine, props.modelVersion, classes.map((c) => c.name).join()]);
  useEffect(() => () => {
    run.current?.abort();
    mixRun.current?.abort();
  }, []);

  const commit = (s: Settings) => {
    clearTimeout(pause.current);
    const key = JSON.stringify([s, engine ? 1 : 0, props.modelVersion, classes]);
    if (key !== lastRun.current) runGrids(s);
  };
  const onInput = (s: Settings) => {
    props.setSettings(s);
    clearTimeout(pause.current);
    if (Object.keys(fieldErrors(s, limits)).length) return;
    pause.current = setTimeout(() => commit(s), TYPING_PAUSE_MS);
  };

  return (
    <section>
      <div class="controls">
        {(Object.keys(LABELS) as (keyof Settings)[]).map((k) => (
          <Field
            key={k}
            name={k}
            settings={settings}
            error={errors[k]}
            onInput={onInput}
            onCommit={() => commit(settings)}
          />
        ))}
        <button
          type="button"
          class="primary"
          id="new-seed"
          onClick={() => {
            const s = { ...settings, seed: String(Math.floor(Math.random() * 1e6)) };
            props.setSettings(s);
            commit(s);
          }}
        >
          New seed
        </button>
        <span class="note" id="timing">{summary}</span>
      </div>
      {error && <div class="error" role="alert">{error}</div>}
      <div class="grids">
        {classes.map((c) => (
          <SpriteCard
            key={c.name}
            name={c.name}
            title={`${c.index} ${c.name}`}
            made={made[c.name]}
            progress={progress[c.name] ?? null}
          />
        ))}
        <SpriteCard name="mix" title="Class mix" made={made.mix} progress={progress.mix ?? null}>
          <div class="mixer">
            {classes.map((c, i) => (
              <label class="slider" key={c.name}>
                <span>{c.name}</span>
                <input
                  type="range"
                  name={`mix-${c.name}`}
                  min="0"
                  max="1"
                  step="0.05"
                  value={mix[i]}
                  onInput={(e) => {
                    const next = [...mix];
                    next[i] = Number((e.target as HTMLInputElement).value);
                    props.setMix(next);
                  }}
                />
                <span>{mix[i].toFixed(2)}</span>
              </label>
            ))}
          </div>
          <p>
            <button
              type="button"
              class="primary"
              id="generate-mix"
              disabled={!valid}
              onClick={() => {
                props.setMix(mix);
                runMix(mix);
              }}
            >
              Generate mixture
            </button>
          </p>
        </SpriteCard>
      </div>
    </section>
  );
}
