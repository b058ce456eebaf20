// GET /api/model/files/:name: the four checkpoint files of the served folder and nothing else, with
// ETags that turn a second visit into 304s.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { CHECKPOINT_FILES } from "../../gpu/formats/checkpoint.ts";
import { DEFAULT_MODEL_DIR } from "../../data/model_source.ts";
import { startTestServer } from "./helpers.ts";

Deno.test("model files: the checkpoint's four files, tagged, 304 when unchanged", async () => {
  const server = await startTestServer({ model: { kind: "folder", dir: DEFAULT_MODEL_DIR } });
  try {
    for (const name of Object.values(CHECKPOINT_FILES)) {
      const url = `${server.url}/api/model/files/${name}`;
      const res = await fetch(url);
      const body = new Uint8Array(await res.arrayBuffer());
      assertEquals(res.status, 200, name);
      assertEquals(body, await Deno.readFile(`${DEFAULT_MODEL_DIR}/${name}`), name);
      const etag = res.headers.get("etag") ?? "";
      ok(/^"[0-9a-f]{32}"$/.test(etag), `${name}: etag ${etag}`);
      assertEquals(res.headers.get("cache-control"), "no-cache");
      ok(/json|octet-stream/.test(res.headers.get("content-type") ?? ""), name);
      for (const tag of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
        const again = await fetch(url, { headers: { "if-none-match": tag } });
        assertEquals(again.status, 304, `${name} with If-None-Match ${tag}`);
        assertEquals((await again.arrayBuffer()).byteLength, 0);
        assertEquals(again.headers.get("etag"), etag);
      }
      const changed = await fetch(url, { headers: { "if-none-match": '"other"' } });
      assertEquals(changed.status, 200);
      await changed.body?.cancel();
    }
  } finally {
    await server.close();
  }
});

Deno.test("model files: nothing but the four names, no paths; a random init has none", async () => {
  const server = await startTestServer({ model: { kind: "folder", dir: DEFAULT_MODEL_DIR } });
  const random = await startTestServer();
  try {
    for (
      const name of [
        "grid.png",
        "train_log.jsonl",
        "loss.svg",
        "..%2Fconfig.json",
        "%2e%2e",
        "config.json%00",
        "sub%2Fconfig.json",
        "CONFIG.JSON",
        "constructor",
        "__proto__",
      ]
    ) {
      const res = await fetch(`${server.url}/api/model/files/${name}`);
      assertEquals(res.status, 404, name);
      const body = await res.json();
      // fetch itself folds "%2e%2e" into "..", which leaves no route at all.
      ok(/no such (model file|route)/.test(body.detail), `${name}: ${body.detail}`);
    }
    const nested = await fetch(`${server.url}/api/model/files/x/config.json`);
    assertEquals(nested.status, 404);
    await nested.body?.cancel();
    const post = await fetch(`${server.url}/api/model/files/config.json`, { method: "POST" });
    assertEquals(post.status, 405);
    await post.body?.cancel();
    const none = await fetch(`${random.url}/api/model/files/config.json`);
    assertEquals(none.status, 404);
    ok(/random init/.test((await none.json()).detail));
  } finally {
    await server.close();
    await random.close();
  }
});
