// The page generating on the visitor's own WebGPU: headless Chromium (SwiftShader, a CPU adapter,
// Dawn and Tint) against the server with the shipped model. The page starts on the device, fetches
// the model's four files, shows a progress bar per grid, and its per-class sprites match the
// server's (llvmpipe through wgpu and naga) within 2 levels of 255 per value; the switch goes to the
// server and a second visit revalidates the files (304) instead of fetching them again. Guidance 1
// (from the URL) keeps SwiftShader's share of the suite's time: parity, not the default, is tested.
import { ok } from "node:assert/strict";
import type { Page } from "playwright-core";
import { CHECKPOINT_FILES } from "../../gpu/formats/checkpoint.ts";
import { DEFAULT_MODEL_DIR } from "../../data/model_source.ts";
import { createApp } from "../../routes/app.ts";
import { launchChromium, skipBrowser, spritePixels, TOLERANCE } from "./chromium.ts";

/** The largest |a - b| over two grids' values, for each pair. */
function maxDiffs(a: { rgba: number[] }[], b: { rgba: number[] }[]): number[] {
  return a.map((g, i) => {
    ok(g.rgba.length === b[i].rgba.length, `grid ${i}: sizes differ`);
    let worst = 0;
    for (let k = 0; k < g.rgba.length; k++) {
      worst = Math.max(worst, Math.abs(g.rgba[k] - b[i].rgba[k]));
    }
    return worst;
  });
}

/** Waits until the five grids are shown and the timing line says where they were made. */
async function fiveGrids(page: Page, where: "on this device" | "on the server") {
  await page.waitForFunction(
    (where) =>
      /ms for 5 grids/.test(document.querySelector("#timing")?.textContent ?? "") &&
      document.querySelector("#timing")?.textContent?.includes(where) &&
      [...document.querySelectorAll<HTMLImageElement>("img.sprite")].filter((i) =>
          i.complete && i.naturalWidth > 0
        ).length === 20,
    where,
    { timeout: 300_000 },
  );
  return Number(/(\d+) ms for 5 grids/.exec(await page.locator("#timing").innerText())![1]);
}

Deno.test({
  name: "on-device page: grids on the page's WebGPU match the server's within 2/255, files cached",
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const app = await createApp({ model: { kind: "folder", dir: DEFAULT_MODEL_DIR } });
    const files: { name: string; status: number }[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
      const res = await app.handler(r);
      const path = new URL(r.url).pathname;
      if (path.startsWith("/api/model/files/")) {
        files.push({ name: path.slice("/api/model/files/".length), status: res.status });
      }
      return res;
    });
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
    const browser = await launchChromium({ webgpu: true });
    try {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(`${url}?guidance=1`);
      // A progress bar per grid while the device works.
      await page.locator(".request-progress[data-state=running]").first().waitFor({
        timeout: 120_000,
      });
      const deviceMs = await fiveGrids(page, "on this device");
      ok(await page.locator("#on-device").isChecked(), "on the device by default");
      ok(/on this device: /.test(await page.locator("#adapter").innerText()));
      ok(/ms on this device$/.test(await page.locator(".sprite-card .timing").first().innerText()));
      const onDevice = await spritePixels(page);
      const names = Object.values(CHECKPOINT_FILES).sort();
      ok(
        JSON.stringify(files.map((f) => `${f.name} ${f.status}`).sort()) ===
          JSON.stringify(names.map((n) => `${n} 200`)),
        `the four files, once each: ${JSON.stringify(files)}`,
      );

      await page.locator("#on-device").uncheck();
      const serverMs = await fiveGrids(page, "on the server");
      const fromServer = await spritePixels(page);
      ok(fromServer.every((s, i) => s.name === onDevice[i].name), "the same sprites, in order");
      const diffs = maxDiffs(onDevice, fromServer);
      console.log(
        `per-class grid (5 x 4 sprites, 10 DDIM steps): ${deviceMs} ms in Chromium ` +
          `(${await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0])}), ` +
          `${serverMs} ms from the server; max |diff| per sprite: ${Math.max(...diffs)} (of 255)`,
      );
      ok(diffs.every((d) => d <= TOLERANCE), `diffs ${diffs} over ${TOLERANCE}`);
      ok(diffs.some((d, i) => d < 255 && onDevice[i].rgba.some((v) => v !== 128)), "real grids");

      // A second visit: the files are revalidated, not fetched again, and the device runs.
      files.length = 0;
      await page.reload();
      await page.locator(".request-progress[data-state=running]").first().waitFor({
        timeout: 120_000,
      });
      ok(
        files.length === 4 && files.every((f) => f.status === 304),
        `revalidated: ${JSON.stringify(files)}`,
      );
      ok(errors.length === 0, `page errors: ${errors.join("; ")}`);
    } finally {
      await browser.close();
      await server.shutdown();
      await app.close();
    }
  },
});
