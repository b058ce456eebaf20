/** @jsxImportSource preact */
/** @jsxRuntime automatic */
// The page: tabs for the sprites (a card per class and a class mix), the dataset report, training
// (when the server allows it) and the served model's measured quality. Sprites are made on this
// device (static/engine.ts: the served model's files on the page's own WebGPU) where the browser
// gives an adapter, else by the server; a switch picks either. The settings live in the URL (static/url_state.ts), so a link reproduces
// the grids, and every tab keeps its state while another is shown. An exported site
// (cli/export_site.ts) has no server: its index.html names the model folder, and the page runs on
// the device only. Bundled into static/app.js by `deno bundle --platform browser`.
//
// A tab is one entry of TABS: an id, a label, when it is offered, and what it renders.
import { type ComponentChildren, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Gpu } from "../gpu/runtime/device.ts";
import type { SamplingLimits } from "../gpu/sample/request.ts";
import { api } from "./api.ts";
import { DatasetTab } from "./dataset_tab.tsx";
import { loadOnDevice, type OnDevice, SERVER_MODEL_URL, webGpuAdapter } from "./engine.ts";
import { QualityTab } from "./quality_tab.tsx";
import { type ClassInfo, SpritesTab } from "./sprites_tab.tsx";
import { TrainTab } from "./train_tab.tsx";
import { type PageState, readState, writeState } from "./url_state.ts";

/** Where sprites are made: "device" (this browser's WebGPU) or "server" (/api/generate). */
type Mode = "device" | "server";

/** The on-device engine: being loaded, ready, or not available here (and why). */
type Engine =
  | { state: "loading" }
  | { state: "ready"; device: OnDevice }
  | { state: "unavailable"; reason: string };

interface Health {
  training: boolean;
  adapter: string;
  limits?: SamplingLimits;
}

/** An exported site's index.html names its model folder; the server's page has no such tag. */
function siteConfig(): { model: string } | undefined {
  const tag = document.getElementById("sprite-site");
  return tag ? JSON.parse(tag.textContent ?? "{}") : undefined;
}

/** What a tab may read and change. */
interface TabContext {
  site: boolean;
  health?: Health;
  classes?: ClassInfo[];
  onDevice?: OnDevice;
  mode?: Mode;
  state: PageState;
  update: (s: Partial<PageState>) => void;
  modelVersion: number;
  modelChanged: () => void;
}

interface TabSpec {
  id: string;
  label: string;
  offered: (c: TabContext) => boolean;
  render: (c: TabContext) => ComponentChildren;
}

const TABS: TabSpec[] = [
  {
    id: "sprites",
    label: "Sprites",
    offered: () => true,
    render: (c) =>
      c.classes && c.mode && (!c.site || c.onDevice)
        ? (
          <SpritesTab
            classes={c.classes}
            engine={c.onDevice}
            limits={c.onDevice ? undefined : c.health?.limits}
            settings={c.state.settings}
            setSettings={(settings) => c.update({ settings })}
            mix={c.state.mix}
            setMix={(mix) => c.update({ mix })}
            modelVersion={c.modelVersion}
          />
        )
        : null,
  },
  {
    id: "dataset",
    label: "Dataset",
    offered: (c) => !c.site,
    render: (c) => (
      <DatasetTab
        view={c.state.dataset}
        setView={(dataset) => c.update({ dataset })}
        modelVersion={c.modelVersion}
      />
    ),
  },
  {
    id: "train",
    label: "Training",
    offered: (c) => Boolean(c.health?.training),
    render: (c) => <TrainTab onModelChange={c.modelChanged} />,
  },
  {
    id: "quality",
    label: "Quality",
    offered: (c) => !c.site,
    render: (c) => <QualityTab modelVersion={c.modelVersion} />,
  },
];

function App() {
  const site = siteConfig();
  const [state, setState] = useState<PageState>(() => readState(location.search));
  const [classes, setClasses] = useState<ClassInfo[] | undefined>();
  const [health, setHealth] = useState<Health | undefined>();
  const [error, setError] = useState("");
  const [engine, setEngine] = useState<Engine>({ state: "loading" });
  const [mode, setMode] = useState<Mode | undefined>();
  const [modeChosen, setModeChosen] = useState(false);
  const [modelVersion, setModelVersion] = useState(0);
  // Tabs are rendered from their first visit on and kept, hidden, while another is shown.
  const [visited, setVisited] = useState<Set<string>>(() => new Set([state.tab]));
  const update = (s: Partial<PageState>) =>
    setState((old) => {
      const next = { ...old, ...s };
      writeState(next);
      return next;
    });
  useEffect(() => writeState(state), []);

  useEffect(() => {
    if (site) return;
    api<{ classes: ClassInfo[] }>("/api/classes").then(
      (r) => setClasses(r.classes),
      (e) => setError(e.message),
    );
    api<Health>("/api/health").then(setHealth, () => {});
  }, [modelVersion]);
  // The model's files for this device; again after a swap (the old engine serves until then).
  const gpu = useRef<Gpu | undefined>(undefined);
  useEffect(() => {
    (async () => {
      if (!await webGpuAdapter()) {
        return setEngine({ state: "unavailable", reason: "this browser gives no WebGPU adapter" });
      }
      const device = await loadOnDevice(site?.model ?? SERVER_MODEL_URL, gpu.current);
      gpu.current = device.gpu;
      setEngine({ state: "ready", device });
      if (site) setClasses(device.model.classNames.map((name, index) => ({ index, name })));
    })().catch((e) => setEngine({ state: "unavailable", reason: (e as Error).message }));
  }, [modelVersion]);
  // On the device by default where it can; the server's page falls back to the server.
  useEffect(() => {
    if (engine.state !== "loading" && !modeChosen) {
      setMode(engine.state === "ready" ? "device" : "server");
    }
  }, [engine]);

  const ready = engine.state === "ready" ? engine.device : undefined;
  const onDevice = mode === "device" && ready ? ready : undefined;
  const context: TabContext = {
    site: Boolean(site),
    health,
    classes,
    onDevice,
    mode,
    state,
    update,
    modelVersion,
    modelChanged: () => setModelVersion((v) => v + 1),
  };
  const tabs = TABS.filter((t) => t.offered(context));
  const tab = tabs.some((t) => t.id === state.tab) ? state.tab : "sprites";
  const show = (id: string) => {
    setVisited((v) => new Set([...v, id]));
    update({ tab: id });
  };
  return (
    <>
      <h1>Sprite Diffusion</h1>
      <p class="note" id="adapter">
        {onDevice ? `on this device: ${onDevice.gpu.description}` : health?.adapter}
      </p>
      <div class="mode">
        <label>
          <input
            type="checkbox"
            id="on-device"
            checked={mode === "device"}
            disabled={!ready || Boolean(site)}
            onChange={(e) => {
              setModeChosen(true);
              setMode((e.target as HTMLInputElement).checked ? "device" : "server");
            }}
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
        {tabs.map((t) => (
          <button
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            onClick={() => show(t.id)}
            key={t.id}
          >
            {t.label}
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
      {tabs.filter((t) => visited.has(t.id) || t.id === tab).map((t) => (
        <div role="tabpanel" id={`panel-${t.id}`} hidden={t.id !== tab} key={t.id}>
          {t.render(context)}
        </div>
      ))}
    </>
  );
}

render(<App />, document.getElementById("app")!);
