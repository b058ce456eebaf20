// A web page must not be able to drive the service, and the service must not hand out what it need
// not: mutating routes take only application/json and only from the server's own origin (or from a
// client that sends no Origin, as curl), cross-site fetches are refused, the Host header must name
// the server (no DNS rebinding), web runs are capped in number, listed and deletable, answers name
// files without their paths, and the token is accepted only as a bearer header (any case), never in
// the URL, and never written to the log. Before, a cross-origin text/plain POST started a job, Host:
// evil.example was served, /api/model and /api/dataset showed absolute paths, ?token= was accepted
// and "bearer" refused.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { startTestServer, type TestServer } from "../routes/helpers.ts";
import { postJson, rawExchange, ROOT, tinyTrainingSet } from "./helpers.ts";

const small = { class: "food", count: 1, steps: 1 };

async function status(server: TestServer, path: string, init?: RequestInit) {
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  return { status: res.status, text };
}

async function waitForJob(server: TestServer) {
  for (let i = 0; i < 300; i++) {
    const s = await (await fetch(server.url + "/api/train")).json();
    if (s.status !== "running" && s.status !== "stopping") return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the job did not end");
}

Deno.test({
  name:
    "security: content type, origin, cross-site fetches, Host, runs capped and deletable, no paths",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "security_" });
    const server = await startTestServer({
      allowTrain: true,
      trainDir: `${dir}/runs`,
      trainingData: await tinyTrainingSet(dir),
      allowedHosts: ["sprites.lan"],
      limits: { maxRuns: 2 },
    });
    const own = server.url;
    try {
      const body = JSON.stringify(small);
      // Content types a page can send without a preflight are refused.
      for (
        const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
      ) {
        const r = await status(server, "/api/generate", {
          method: "POST",
          headers: { "content-type": type },
          body,
        });
        assertEquals(r.status, 415, `${type}: ${r.text}`);
      }
      const plainJob = await status(server, "/api/train", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "{}",
      });
      assertEquals(plainJob.status, 415);
      // Another origin, or none that a browser would send ("null"), is refused; the own one works.
      for (const origin of ["http://evil.example", "null", "http://127.0.0.1:1"]) {
        const r = await status(server, "/api/generate", postJson(small, { origin }));
        assertEquals(r.status, 403, `${origin}: ${r.text}`);
      }
      assertEquals(
        (await status(server, "/api/generate", postJson(small, { origin: own }))).status,
        200,
      );
      assertEquals((await status(server, "/api/generate", postJson(small))).status, 200, "curl");
      // Cross-site fetches of any API route (an <img> starting generations).
      const img = await status(server, "/api/grid.png?per_class=1&steps=1", {
        headers: { "sec-fetch-site": "cross-site" },
      });
      assertEquals(img.status, 403);
      assertEquals(
        (await status(server, "/", { headers: { "sec-fetch-site": "cross-site" } })).status,
        200,
      );
      // Bodyless commands (README's curl recipes) pass the checks and reach their routes.
      assertEquals((await status(server, "/api/train", { method: "DELETE" })).status, 409);
      assertEquals((await status(server, "/api/train/swap", { method: "POST" })).status, 409);

      // Host: only the server's names.
      const get = (host: string) =>
        rawExchange(
          server.port,
          `GET /api/health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
          3000,
        );
      for (const host of ["evil.example", `evil.example:${server.port}`, "127.0.0.2"]) {
        const r = await get(host);
        ok(/^HTTP\/1.1 403/.test(r.reply), `${host}: ${r.reply.slice(0, 100)}`);
      }
      for (const host of [`localhost:${server.port}`, `[::1]:${server.port}`, "sprites.lan:8000"]) {
        const r = await get(host);
        ok(/^HTTP\/1.1 200/.test(r.reply), `${host}: ${r.reply.slice(0, 100)}`);
      }

      // Runs: capped, listed, deletable (not while training, not outside the folder).
      const job = async () => {
        const r = await fetch(own + "/api/train", postJson({ batch: 8, epochs: 1, max_steps: 1 }));
        return { status: r.status, body: await r.json() };
      };
      const first = await job();
      assertEquals(first.status, 202, JSON.stringify(first.body));
      await waitForJob(server);
      assertEquals((await job()).status, 202);
      await waitForJob(server);
      const third = await job();
      assertEquals(third.status, 409);
      ok(/delete one first/.test(third.body.detail), third.body.detail);
      const runs = await (await fetch(own + "/api/train/runs")).json();
      assertEquals(runs.runs.length, 2);
      ok(
        runs.runs.every((r: { bytes: number; epochs: number }) => r.bytes > 1000 && r.epochs === 0),
      );
      for (const name of ["..", "..%2F..%2Fetc", "web-run-1", "%E0%A4%A"]) {
        assertEquals(
          (await status(server, `/api/train/runs/${name}`, { method: "DELETE" })).status,
          404,
        );
      }
      const deleted = await status(server, `/api/train/runs/${first.body.run}`, {
        method: "DELETE",
      });
      assertEquals(deleted.status, 200, deleted.text);
      await Deno.stat(`${dir}/runs/${first.body.run}`).then(
        () => ok(false, "the run folder is still there"),
        () => {},
      );
      const running = await fetch(own + "/api/train", postJson({ batch: 8, epochs: 1000 }));
      const runningBody = await running.json();
      assertEquals(running.status, 202);
      const busy = await status(server, `/api/train/runs/${runningBody.run}`, { method: "DELETE" });
      assertEquals(busy.status, 409);
      await fetch(own + "/api/train", { method: "DELETE" }).then((r) => r.body?.cancel());

      // Answers name files, never where they are.
      for (
        const path of ["/api/model", "/api/dataset", "/api/train", "/api/train/runs", "/api/health"]
      ) {
        const text = (await status(server, path)).text;
        ok(
          !text.includes(ROOT) && !text.includes(dir),
          `${path} shows a path: ${text.slice(0, 300)}`,
        );
      }
      const dataset = await (await fetch(own + "/api/dataset")).json();
      assertEquals([dataset.sprites, dataset.labels], [
        "sprites_4470_16x16.npy",
        "sprite_labels_nc_4470_16x16.npy",
      ]);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "security: the token only as a bearer header, in any case; never in the URL or the log",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const token = "s3cret-T0KEN";
    const dir = await Deno.makeTempDir({ prefix: "token_" });
    const logged: string[] = [];
    const saved = { log: console.log, error: console.error, warn: console.warn };
    for (const k of ["log", "error", "warn"] as const) {
      console[k] = (...a: unknown[]) => logged.push(a.map(String).join(" "));
    }
    const server = await startTestServer({ allowTrain: true, token, trainDir: dir });
    try {
      const train = (headers: Record<string, string>, query = "") =>
        status(server, `/api/train${query}`, { headers });
      assertEquals((await train({})).status, 401);
      assertEquals((await train({ authorization: `Bearer ${token}x` })).status, 401);
      for (const scheme of ["Bearer", "bearer", "BEARER"]) {
        assertEquals((await train({ authorization: `${scheme} ${token}` })).status, 200, scheme);
      }
      const inUrl = await train({}, `?token=${token}`);
      assertEquals(inUrl.status, 400);
      ok(!inUrl.text.includes(token), "the refusal echoes the token");
      const both = await train({ authorization: `Bearer ${token}` }, `?token=${token}`);
      assertEquals(both.status, 400);
      // Starting an evaluation takes the same token (a random init then has no classifier: 409);
      // another site's page cannot start one.
      const measure = (headers: Record<string, string>, query = "") =>
        status(server, `/api/quality${query}`, postJson({}, headers));
      assertEquals((await measure({})).status, 401);
      assertEquals((await measure({}, `?token=${token}`)).status, 400);
      const measured = await measure({ authorization: `Bearer ${token}` });
      assertEquals(measured.status, 409, measured.text);
      ok(/random init/.test(measured.text), measured.text);
      const cross = await measure({
        authorization: `Bearer ${token}`,
        origin: "https://evil.example",
      });
      assertEquals(cross.status, 403);
      // Requests that fail in other ways, with the token in their URL.
      await status(server, `/static/${"a".repeat(300)}.js?token=${token}`);
      await status(server, `/api/nothing?token=${token}`);
      await status(server, `/api/generate?token=${token}`, postJson({ class: "dragon" }));
    } finally {
      await server.close();
      Object.assign(console, saved);
      await Deno.remove(dir, { recursive: true });
    }
    ok(logged.every((l) => !l.includes(token)), `the token was logged: ${logged.join("\n")}`);
  },
});
