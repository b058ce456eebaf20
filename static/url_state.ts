// The page's settings live in its URL (?tab=…&count=…&seed=…&mix=…), so a shared link opens the
// same tab with the same settings and, same seed same sprites, the same grids; the URL is replaced
// in place as they change (no history entry per keystroke). Values are kept as typed: the sprites
// tab checks them before anything is sent.
import { GRID_DEFAULTS } from "../gpu/sample/request.ts";

/** The sampling fields of the sprites tab, as typed. */
export interface Settings {
  count: string;
  steps: string;
  eta: string;
  seed: string;
  guidance: string;
}

export interface PageState {
  tab: string;
  settings: Settings;
  /** The class mix's weights; null until the mixer is used (then its grid is part of the link). */
  mix: number[] | null;
  dataset: { kind: "removed" | "kept"; cls: string };
}

export const DEFAULT_SETTINGS: Settings = {
  count: String(GRID_DEFAULTS.count),
  steps: String(GRID_DEFAULTS.steps),
  eta: String(GRID_DEFAULTS.eta),
  seed: String(GRID_DEFAULTS.seed),
  guidance: String(GRID_DEFAULTS.guidance),
};

const SETTING_KEYS = Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[];

export function readState(search: string): PageState {
  const q = new URLSearchParams(search);
  const settings = { ...DEFAULT_SETTINGS };
  for (const k of SETTING_KEYS) {
    const v = q.get(k);
    if (v !== null) settings[k] = v.slice(0, 40);
  }
  const mixText = q.get("mix");
  const mix = mixText === null
    ? null
    : mixText.split(",").slice(0, 64).map((w) => Math.min(1, Math.max(0, Number(w) || 0)));
  return {
    tab: q.get("tab") ?? "sprites",
    settings,
    mix,
    dataset: { kind: q.get("kind") === "kept" ? "kept" : "removed", cls: q.get("class") ?? "" },
  };
}

/** The query string of a state: every setting, so a link keeps its meaning if defaults change. */
export function stateQuery(s: PageState): string {
  const q = new URLSearchParams();
  if (s.tab !== "sprites") q.set("tab", s.tab);
  for (const k of SETTING_KEYS) q.set(k, s.settings[k]);
  if (s.mix) q.set("mix", s.mix.map((w) => String(Number(w.toFixed(2)))).join(","));
  if (s.dataset.kind !== "removed") q.set("kind", s.dataset.kind);
  if (s.dataset.cls) q.set("class", s.dataset.cls);
  return q.toString();
}

export function writeState(s: PageState): void {
  const query = stateQuery(s);
  if (location.search.slice(1) === query) return;
  history.replaceState(null, "", `${location.pathname}?${query}${location.hash}`);
}
