// The page's first view: a warm service prepares a grid a class at the sprites tab's defaults while
// it starts, and answers those requests at once, with the bytes a cold service makes for them.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { GRID_DEFAULTS } from "../../gpu/sample/request.ts";
import { startTestServer } from "./helpers.ts";

// What static/sprites_tab.tsx sends for a class's grid.
const pageBody = (cls: number) => ({ class: cls, ...GRID_DEFAULTS, scale: 1, format: "json" });

async function generate(url: string, body: unknown) {
  const res = await fetch(`${url}/api/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assertEquals(res.status, 200);
  const json = await res.json();
  return { json, prepared: res.headers.get("x-prepared") };
}

Deno.test("a warm service answers the page's first grids without a pass, with the cold bytes", async () => {
  const warm = await startTestServer({ warm: true });
  const cold = await startTestServer();
  try {
    await warm.app.warmup;
    const classes = warm.app.context.model.classNames.length;
    const before = warm.app.context.worker.stats.queue;
    assertEquals(before.passes, 1, "the warm-up merged the grids into one pass");
    for (let c = 0; c < classes; c++) {
      const w = await generate(warm.url, pageBody(c));
      const k = await generate(cold.url, pageBody(c));
      assertEquals([w.json.prepared, w.prepared], [true, "1"], `class ${c}`);
      assertEquals([k.json.prepared, k.prepared], [false, null], `class ${c}`);
      assertEquals(w.json.sprites, k.json.sprites, `class ${c}`);
      assertEquals(w.json.sprites.length, GRID_DEFAULTS.count);
    }
    const after = warm.app.context.worker.stats.queue;
    assertEquals([after.passes, after.prepared], [1, classes]);
    // Another seed is made for the request, as always.
    const other = await generate(warm.url, { ...pageBody(0), seed: GRID_DEFAULTS.seed + 1 });
    ok(!other.json.prepared);
    assertEquals(warm.app.context.worker.stats.queue.passes, 2);
  } finally {
    await warm.close();
    await cold.close();
  }
});
