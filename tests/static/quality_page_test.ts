// The Quality tab in a real browser (Debian's Chromium, headless, playwright-core), kept short: a
// tiny model and the toy set, 4 sprites per class. Measure without a classifier shows the refusal
// beside the button; with one, a progress bar fed by the events, then the table with a row per
// class (the cells of the report the server gives) and both montages loaded. A screenshot goes to
// $TMPDIR/sprite_page_quality.png.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { classTable } from "../../gpu/eval/table.ts";
import { TOY_CLASSES } from "../eval/toy_sprites.ts";
import { withToyServer } from "../routes/toy_server.ts";
import { launchChromium, skipBrowser } from "./chromium.ts";

const shots = Deno.env.get("TMPDIR") ?? "/tmp";

Deno.test({
  name: "the Quality tab: Measure, progress, the table and the montages",
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withToyServer(async ({ server, makeJudge }) => {
      const browser = await launchChromium({ viewport: { width: 1200, height: 900 } });
      try {
        const page = await browser.context.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(server.url + "/?tab=dataset");
        await page.locator("#tab-quality").click();
        assertEquals(await page.locator("#tab-quality").getAttribute("aria-selected"), "true");
        await page.locator("#quality-per-class").fill("4");
        // No classifier beside the model yet: the refusal beside the button names the CLI.
        await page.locator("#measure").click();
        const refusal = await page.locator("#quality-error").textContent({ timeout: 30_000 });
        ok(/no classifier/.test(refusal ?? "") && /deno task eval/.test(refusal ?? ""), refusal!);
        await makeJudge();
        // The bar may come and go between two polls: an observer notes that it was there.
        await page.evaluate(() => {
          const seen = globalThis as unknown as { progressSeen: number[] };
          seen.progressSeen = [];
          new MutationObserver(() => {
            const bar = document.querySelector<HTMLProgressElement>("#quality-progress");
            if (bar) seen.progressSeen.push(bar.max);
          }).observe(document.body, { subtree: true, childList: true, attributes: true });
        });
        await page.locator("#measure").click();
        await page.locator("#quality-table").waitFor({ timeout: 120_000 });
        const seen = await page.evaluate(() =>
          (globalThis as unknown as { progressSeen: number[] }).progressSeen
        );
        ok(seen.length > 0 && seen.some((max) => max > 1), `progress seen: ${seen}`);

        const report = (await (await fetch(`${server.url}/api/quality`)).json()).report;
        const { header, rows } = classTable(report);
        const cells = await page.locator("#quality-table tr:not(.groups)").evaluateAll((trs) =>
          trs.map((tr) => [...tr.querySelectorAll("th, td")].map((c) => c.textContent ?? ""))
        );
        assertEquals(cells, [header, ...rows]);
        assertEquals(cells.slice(1, -1).map((r) => r[0]), TOY_CLASSES.map((n, i) => `${i} ${n}`));

        await page.waitForFunction(
          () =>
            ["#quality-samples", "#quality-nearest"].every((s) => {
              const img = document.querySelector<HTMLImageElement>(s);
              return img !== null && img.complete && img.naturalWidth > 0;
            }),
          undefined,
          { timeout: 30_000 },
        );
        const sizes = await page.locator("img.pixel[id^=quality-]").evaluateAll((els) =>
          els.map((
            e,
          ) => [(e as HTMLImageElement).naturalWidth, (e as HTMLImageElement).naturalHeight])
        );
        assertEquals(sizes, [[4 * 50 + 2, 4 * 50 + 2], [16 * 50 + 2, 2 * 50 + 2]]);
        await page.screenshot({ path: `${shots}/sprite_page_quality.png`, fullPage: true });
        assertEquals(errors, []);
      } finally {
        await browser.close();
      }
    });
  },
});
