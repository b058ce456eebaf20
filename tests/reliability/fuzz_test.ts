// A bounded fuzzer over every route, seeded: random methods, paths, queries, headers and bodies
// (valid, nearly valid and hostile: prototype names, huge numbers, long names, bad JSON, wrong
// content types). No answer may be a 5xx, every error is the JSON {error, detail}, and the server
// still answers afterwards. Among them the 500s the first probe found: a /static/ name of 256+
// characters, a training config of "constructor", "toString" or "hasOwnProperty".
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { sampleCommand } from "../../cli/sample.ts";
import { inputErrorStatus } from "../../errors.ts";
import { makeRng, type Rng } from "../util.ts";
import { startTestServer } from "../routes/helpers.ts";
import { tinyTrainingSet } from "./helpers.ts";

const SEED = 20240611;
const REQUESTS = Number(Deno.env.get("FUZZ_REQUESTS") ?? 400);

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng.next() * items.length)];

const HOSTILE_STRINGS = [
  "constructor",
  "toString",
  "hasOwnProperty",
  "__proto__",
  "prototype",
  "",
  " ",
  "x".repeat(300),
  "%00",
  "../deno.json",
  "food",
  "human",
  "0",
  "-1",
  "1e39",
  "NaN",
  "Infinity",
  "ddim",
  "ddpm",
  "f16",
  "compact",
  "reference",
  "\u{1F600}",
];

function value(rng: Rng, depth = 0): unknown {
  const r = rng.next();
  if (r < 0.3) {
    return pick(rng, [
      0,
      1,
      2,
      3,
      -1,
      0.5,
      1e39,
      -1e39,
      1e308,
      2 ** 32,
      2 ** 53,
      1.5,
      64,
      65,
      1000,
    ]);
  }
  if (r < 0.55) return pick(rng, HOSTILE_STRINGS);
  if (r < 0.65) return pick(rng, [null, true, false]);
  if (r < 0.85 && depth < 2) {
    return Array.from({ length: Math.floor(rng.next() * 6) }, () => value(rng, depth + 1));
  }
  if (depth < 2) return object(rng, depth + 1);
  return 1;
}

const FIELDS = [
  "class",
  "classes",
  "labels",
  "count",
  "steps",
  "eta",
  "seed",
  "guidance",
  "scheduler",
  "scale",
  "format",
  "per_class",
  "config",
  "batch",
  "epochs",
  "lr",
  "weight_decay",
  "loss",
  "precision",
  "dropout",
  "max_steps",
  "log_every",
  "__proto__",
  "constructor",
  "colour",
];

function object(rng: Rng, depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const n = Math.floor(rng.next() * 5);
  for (let i = 0; i < n; i++) o[pick(rng, FIELDS)] = value(rng, depth);
  return o;
}

/** Mostly small valid generation requests, so some reach the GPU (the work cap keeps them short). */
function generateBody(rng: Rng): unknown {
  const r = rng.next();
  if (r < 0.25) {
    return {
      class: pick(rng, ["food", 0, 4, "spell"]),
      count: 1 + Math.floor(rng.next() * 3),
      steps: 2,
    };
  }
  if (r < 0.35) return { labels: [1e39, 0, 0, 0, 0], count: 1, steps: 1 };
  return object(rng);
}

function trainBody(rng: Rng): unknown {
  const r = rng.next();
  if (r < 0.15) return { config: pick(rng, ["constructor", "toString", "hasOwnProperty", "nope"]) };
  if (r < 0.25) return { batch: 8, epochs: 1, max_steps: 1 };
  if (r < 0.3) return { batch: 4096, epochs: 1 };
  return object(rng);
}

function query(rng: Rng): string {
  const keys = ["per_class", "steps", "seed", "scale", "eta", "kind", "class", "count", "token"];
  const parts = Array.from({ length: Math.floor(rng.next() * 4) }, () => {
    const v = rng.next() < 0.5 ? String(value(rng, 2)) : String(Math.floor(rng.next() * 20));
    return `${pick(rng, keys)}=${encodeURIComponent(v)}`;
  });
  // Keep generated grids short: the work cap refuses the rest.
  return parts.length ? `?${parts.join("&")}` : "";
}

const PATHS = [
  "/api/health",
  "/api/model",
  "/api/classes",
  "/api/generate",
  "/api/grid.png",
  "/api/dataset",
  "/api/dataset/examples.png",
  "/api/train",
  "/api/train/swap",
  "/api/train/runs",
  "/api/train/runs/web-run-20240101-000000",
  "/api/train/runs/%E0%A4%A",
  "/",
  "/static/app.js",
  "/static/style.css",
  "/static/" + "a".repeat(300),
  "/static/" + "b".repeat(255) + ".js",
  "/static/%2e%2e%2fdeno.json",
  "/static/..%2F..%2Fetc%2Fpasswd",
  "/api/nothing",
  "/%",
];

/** The methods a path answers to, mostly: the fuzzer sends those three times in four. */
function methodsOf(path: string): string[] {
  if (path === "/api/generate" || path === "/api/train/swap") return ["POST"];
  if (path === "/api/train") return ["GET", "POST", "DELETE"];
  if (path.startsWith("/api/train/runs/")) return ["DELETE"];
  return ["GET"];
}

Deno.test({
  name: `fuzz: ${REQUESTS} seeded requests over every route, no 5xx, every error JSON`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "fuzz_" });
    const server = await startTestServer({
      allowTrain: true,
      trainDir: `${dir}/runs`,
      trainingData: await tinyTrainingSet(dir),
      // Short generations only; big training batches are refused by the budget.
      limits: { maxWork: 24, maxRuns: 2 },
      memoryBudgetBytes: 256 * 2 ** 20,
    });
    const rng = makeRng(SEED);
    const statuses = new Map<number, number>();
    try {
      for (let i = 0; i < REQUESTS; i++) {
        const path = pick(rng, PATHS);
        const method = rng.next() < 0.75
          ? pick(rng, methodsOf(path))
          : pick(rng, ["GET", "POST", "DELETE", "PUT", "HEAD"]);
        const url = server.url + path + (path.startsWith("/api/") ? query(rng) : "");
        const headers: Record<string, string> = {};
        let body: string | undefined;
        if (method === "POST" || method === "PUT") {
          const r = rng.next();
          headers["content-type"] = r < 0.85 ? "application/json" : pick(rng, ["text/plain", ""]);
          const payload = path === "/api/generate"
            ? generateBody(rng)
            : path === "/api/train"
            ? trainBody(rng)
            : object(rng);
          body = rng.next() < 0.9
            ? JSON.stringify(payload)
            : pick(rng, ["{", "[1,2]", "null", "\u0000"]);
        }
        if (rng.next() < 0.2) headers.accept = pick(rng, ["application/json", "image/png", "*/*"]);
        const res = await fetch(url, { method, headers, body });
        const bytes = new Uint8Array(await res.arrayBuffer());
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = new TextDecoder().decode(bytes);
        ok(
          res.status < 500,
          `${method} ${url} ${body ?? ""} -> ${res.status} ${text.slice(0, 300)}`,
        );
        if (res.status >= 400 && method !== "HEAD") {
          const parsed = JSON.parse(text);
          ok(typeof parsed.error === "string" && typeof parsed.detail === "string", text);
        }
        // A job the fuzzer started is stopped now and then, so jobs stay short.
        if (i % 25 === 24) {
          await fetch(server.url + "/api/train", { method: "DELETE" }).then((r) =>
            r.body?.cancel()
          );
        }
      }
      console.log(`statuses: ${[...statuses].sort().map(([s, n]) => `${s}: ${n}`).join(", ")}`);
      const health = await fetch(server.url + "/api/health");
      assertEquals(health.status, 200);
      await health.body?.cancel();
      ok((statuses.get(200) ?? 0) > 10, "some requests succeed");
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the 500s of the first probe: long static names and prototype names are refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fuzz_named_" });
  const server = await startTestServer({ allowTrain: true, trainDir: dir });
  try {
    for (const n of [255, 256, 300, 5000]) {
      const res = await fetch(`${server.url}/static/${"a".repeat(n)}.js`);
      assertEquals(res.status, 404, `${n} characters`);
      ok(JSON.parse(await res.text()).detail.length < 200);
    }
    for (const config of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
      const res = await fetch(server.url + "/api/train", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ config }),
      });
      const body = await res.json();
      assertEquals(res.status, 400, `${config}: ${JSON.stringify(body)}`);
      ok(/unknown config preset/.test(body.detail), body.detail);
    }
    // The CLI's preset lookup is the same one.
    for (const config of ["constructor", "toString", "hasOwnProperty"]) {
      await rejects(
        () => sampleCommand(["--random-init", "--config", config, "--out", `${dir}/x.png`]),
        (e: Error) => inputErrorStatus(e) !== undefined && /unknown config "/.test(e.message),
      );
    }
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
