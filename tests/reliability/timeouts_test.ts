// Nothing waits forever: a head that never completes, a chunked body that never ends and idle
// connections are closed after their timeouts, connections past the cap are answered 503 at once,
// requests whose clients have gone are dropped before their pass, and an abandoned upload leaves no
// stack trace in the log. Before, each was held until the client quit, six abandoned requests kept
// the GPU busy for 54 s, and every abandoned upload logged a stack trace.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { startTestServer } from "../routes/helpers.ts";
import { postJson, rawExchange } from "./helpers.ts";

const READ_MS = 400;
const IDLE_MS = 600;

Deno.test({
  name: "timeouts: slow heads, endless bodies, idle and surplus connections, gone clients",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const logged: string[] = [];
    const saved = { error: console.error, warn: console.warn };
    console.error = console.warn = (...a: unknown[]) => logged.push(a.map(String).join(" "));
    const server = await startTestServer(
      { limits: { bodyTimeoutMs: READ_MS } },
      { readTimeoutMs: READ_MS, idleTimeoutMs: IDLE_MS, maxConnections: 16 },
    );
    const port = server.port;
    try {
      // A head that stops half way, and a connection that sends nothing.
      for (const start of ["GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n", ""]) {
        const r = await rawExchange(port, start, 5000);
        ok(r.closed && /^HTTP\/1.1 408/.test(r.reply), `${JSON.stringify(start)}: ${r.reply}`);
        ok(r.ms < READ_MS + 1000, `closed after ${r.ms.toFixed(0)} ms`);
      }
      // A chunked body that never ends.
      const endless = await rawExchange(
        port,
        "POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
          'Transfer-Encoding: chunked\r\n\r\n5\r\n{"cla\r\n',
        5000,
      );
      ok(
        /^HTTP\/1.1 408/.test(endless.reply) && /did not arrive/.test(endless.reply),
        endless.reply,
      );
      ok(endless.ms < READ_MS + 1500, `answered after ${endless.ms.toFixed(0)} ms`);
      // A kept-alive connection that goes quiet after its answer.
      const idle = await rawExchange(
        port,
        "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        5000,
      );
      ok(/^HTTP\/1.1 200/.test(idle.reply) && idle.closed, idle.reply);
      ok(idle.ms >= IDLE_MS - 50 && idle.ms < IDLE_MS + 1000, `idle for ${idle.ms.toFixed(0)} ms`);

      // 40 stalled connections: 16 held until their head timeout, the rest refused at once.
      const stalled = await Promise.all(
        Array.from({ length: 40 }, () => rawExchange(port, "", 5000)),
      );
      const refused = stalled.filter((r) => /^HTTP\/1.1 503/.test(r.reply));
      const timedOut = stalled.filter((r) => /^HTTP\/1.1 408/.test(r.reply));
      assertEquals(refused.length + timedOut.length, 40);
      ok(refused.length >= 24 && refused.every((r) => r.ms < 300), `${refused.length} refused`);
      ok(stalled.every((r) => r.closed && r.ms < READ_MS + 1000));
      assertEquals(
        await fetch(server.url + "/api/health").then(async (r) => {
          await r.body?.cancel();
          return r.status;
        }),
        200,
      );
      const stats = server.server.stats();
      ok(
        stats.headTimeouts >= 18 && stats.idleTimeouts >= 1 && stats.refused >= 24,
        JSON.stringify(stats),
      );

      // Six requests abandoned while they wait behind a long one are never run.
      const before = server.app.context.worker.stats.queue;
      const blocker = fetch(
        server.url + "/api/generate",
        postJson({ class: 0, count: 16, steps: 6, seed: 1 }),
      ).then((r) => r.arrayBuffer());
      await new Promise((r) => setTimeout(r, 100));
      const abandoned = Array.from({ length: 6 }, (_, i) => {
        const abort = new AbortController();
        const sent = fetch(
          server.url + "/api/generate",
          { ...postJson({ class: 1, count: 16, steps: 6, seed: 10 + i }), signal: abort.signal },
        ).catch(() => "aborted");
        setTimeout(() => abort.abort(), 200);
        return sent;
      });
      assertEquals(await Promise.all(abandoned), Array(6).fill("aborted"));
      await blocker;
      await new Promise((r) => setTimeout(r, 200));
      const after = server.app.context.worker.stats.queue;
      assertEquals(after.cancelled - before.cancelled, 6, JSON.stringify(after));
      assertEquals(after.passes - before.passes, 1, "only the blocker ran");

      // An upload abandoned half way.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode(
        "POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
          'Content-Length: 1000\r\n\r\n{"class":',
      ));
      await new Promise((r) => setTimeout(r, 100));
      conn.close();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await server.close();
      Object.assign(console, saved);
    }
    assertEquals(logged, [], "nothing logged for clients that went away or timed out");
  },
});
