// Shared by the reliability suite and `deno task soak`: latency figures, raw-socket requests, a tiny
// training set and config on disk, and the service as a child process (for signals and kill -9).
// Everything is on loopback and seeded.
import { generateSpriteDataset } from "../../data/generate.ts";
import { writeNpy } from "../../data/npy.ts";
import { tinyConfig } from "../util.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

export interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Percentiles of `ms` (nearest rank). */
export function latency(ms: readonly number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : NaN;
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s.at(-1) ?? NaN };
}

export const showLatency = (l: Latency) =>
  `n ${l.n}, p50 ${l.p50.toFixed(1)} ms, p95 ${l.p95.toFixed(1)} ms, p99 ${
    l.p99.toFixed(1)
  } ms, max ${l.max.toFixed(1)} ms`;

/** One request's status and milliseconds (the body read whole). */
export async function timed(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - t0 };
}

/**
 * Calls `probe` every `everyMs` until `stop` settles and returns each answer's milliseconds counted
 * from when it was due, not from when it was sent: when client and server share a process (the
 * in-process tests), an event loop blocked by GPU work delays the probe's own timer, and that delay
 * is what a separate client would have waited.
 */
export async function pollWhile(
  stop: Promise<unknown>,
  probe: () => Promise<unknown>,
  everyMs = 20,
): Promise<number[]> {
  let done = false;
  stop.then(() => done = true, () => done = true);
  const out: number[] = [];
  while (!done) {
    const due = performance.now() + everyMs;
    await new Promise((r) => setTimeout(r, everyMs));
    await probe();
    out.push(performance.now() - due);
  }
  return out;
}

/** A JSON POST. */
export const postJson = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/**
 * Writes `text` on a fresh connection and reads until the server closes it or `timeoutMs` passes:
 * what came back, and whether the server closed the connection.
 */
export async function rawExchange(
  port: number,
  text: string | Uint8Array,
  timeoutMs: number,
): Promise<{ reply: string; closed: boolean; ms: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const t0 = performance.now();
  try {
    if (text.length) {
      await conn.write(typeof text === "string" ? new TextEncoder().encode(text) : text);
    }
    const chunks: string[] = [];
    const buf = new Uint8Array(65536);
    let closed = false;
    const deadline = new Promise<"late">((r) => setTimeout(() => r("late"), timeoutMs));
    while (true) {
      const n = await Promise.race([conn.read(buf).catch(() => null), deadline]);
      if (n === "late") break;
      if (n === null) {
        closed = true;
        break;
      }
      chunks.push(new TextDecoder().decode(buf.subarray(0, n)));
    }
    return { reply: chunks.join(""), closed, ms: performance.now() - t0 };
  } finally {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

/** `count` procedural sprites (uncleaned) as an .npy pair in `dir`: a training set of seconds. */
export async function tinyTrainingSet(dir: string, count = 16, seed = 3) {
  const g = generateSpriteDataset({ count, seed });
  const sprites = `${dir}/sprites.npy`;
  const labels = `${dir}/labels.npy`;
  await writeNpy(sprites, g.images, [count, 16, 16, 3]);
  await writeNpy(labels, Float64Array.from(g.labels), [count, 5]);
  return { sprites, labels, clean: false };
}

/** tinyConfig as a config.json the CLI reads (`--config FILE`). */
export async function tinyConfigFile(dir: string): Promise<string> {
  const path = `${dir}/tiny.json`;
  await Deno.writeTextFile(path, JSON.stringify(tinyConfig));
  return path;
}

export interface ServiceProcess {
  port: number;
  url: string;
  child: Deno.ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Waits for it to exit; its status. */
  status: Promise<Deno.CommandStatus>;
}

/** The permission flags of `deno task start` (deno.json's task, between "run" and main.ts). */
export async function startTaskFlags(): Promise<string[]> {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const words = (tasks.start as string).split(/\s+/);
  const run = words.indexOf("run");
  const main = words.indexOf("main.ts");
  if (!(run > 0 && main > run && words[main + 1] === "serve")) throw new Error(tasks.start);
  return words.slice(run + 1, main);
}

/**
 * `deno task start` as a child (cwd `cwd`, so its models/ is there), once it listens; with all
 * permissions unless `flags` gives the task's own (startTaskFlags).
 */
export async function startService(
  cwd: string,
  args: string[],
  flags = ["-A"],
): Promise<ServiceProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags,
      "--config",
      `${ROOT}deno.json`,
      `${ROOT}main.ts`,
      "serve",
      "--port",
      "0",
      ...args,
    ],
    cwd,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let listening: (port: number) => void;
  const port = new Promise<number>((r) => listening = r);
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const bytes of stream) {
      text += decoder.decode(bytes, { stream: true });
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(text);
      if (m) listening(Number(m[1]));
    }
  };
  const reading = Promise.all([read(child.stdout), read(child.stderr)]);
  const status = child.status.then(async (s) => {
    await reading;
    return s;
  });
  const p = await Promise.race([port, status.then((s) => s)]);
  if (typeof p !== "number") {
    throw new Error(`the service exited (${p.code}) before listening:\n${text}`);
  }
  return { port: p, url: `http://127.0.0.1:${p}`, child, output: () => text, status };
}
