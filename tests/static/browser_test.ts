// The page in a real browser: Debian's Chromium, headless, driven by playwright-core against a
// running server with a tiny model. The five grids appear with real images, a new seed changes
// them, and an error from the API is shown. Screenshots go to $TMPDIR (default /tmp).
import { ok } from "node:assert/strict";
import { chromium } from "playwright-core";
import { startTestServer } from "../routes/helpers.ts";

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
const inCi = Boolean(Deno.env.get("CI"));
if (!hasChromium && !inCi) {
  console.warn(`browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
}
const shots = Deno.env.get("TMPDIR") ?? "/tmp";

Deno.test({
  name: "the page: five grids, a new seed changes them, API errors are shown",
  ignore: !hasChromium && !inCi,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    ok(hasChromium, `CI is set but there is no Chromium at ${CHROMIUM}`);
    const server = await startTestServer();
    const profile = await Deno.makeTempDir({ prefix: "sprite-chromium-" });
    // A fresh profile each run (Playwright's persistent context is its --user-data-dir).
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 390, height: 844 },
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(server.url + "/");
      const images = page.locator("img.sprites");
      // The first grids compile the tiny model's programs: generous timeout.
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll<HTMLImageElement>("img.sprites")].filter((i) =>
            i.complete && i.naturalWidth > 0
          ).length === 5,
        undefined,
        { timeout: 60_000 },
      );
      const first = await images.evaluateAll((els) => els.map((e) => (e as HTMLImageElement).src));
      ok(first.every((s) => s.startsWith("data:image/png;base64,") && s.length > 200));
      ok(new Set(first).size === 5, "each class has its own grid");
      const width = await images.first().evaluate((e) => (e as HTMLImageElement).naturalWidth);
      ok(width === 4 * (16 * 4 + 2) + 2, `grid of 4 sprites at scale 4, got width ${width}`);
      const rendering = await images.first().evaluate((e) => getComputedStyle(e).imageRendering);
      ok(rendering === "pixelated" || rendering === "crisp-edges", rendering);
      await page.screenshot({ path: `${shots}/sprite_page_phone.png`, fullPage: true });

      await page.click("#new-seed");
      await page.waitForFunction(
        (before) => {
          const now = [...document.querySelectorAll<HTMLImageElement>("img.sprites")].map((i) =>
            i.src
          );
          return now.length === 5 && now.every((s, i) => s !== before[i]);
        },
        first,
        { timeout: 60_000 },
      );
      ok(/ms for 5 grids/.test(await page.locator("#timing").innerText()));

      await page.fill("input[name=steps]", "0");
      await page.press("input[name=steps]", "Enter");
      await page.locator("input[name=eta]").focus(); // commits the change
      const alert = page.locator(".error[role=alert]");
      await alert.waitFor({ timeout: 30_000 });
      const message = await alert.innerText();
      ok(/steps must be in \[1, 1000\], got 0/.test(message), message);
      await page.screenshot({ path: `${shots}/sprite_page_error.png`, fullPage: true });

      await page.setViewportSize({ width: 1200, height: 900 });
      await page.click("text=Dataset");
      await page.locator(".hist .row").first().waitFor({ timeout: 30_000 });
      await page.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>("img.pixel");
        return img !== null && img.complete && img.naturalWidth > 0;
      });
      await page.screenshot({ path: `${shots}/sprite_page_dataset.png`, fullPage: true });
      ok(errors.length === 0, `page errors: ${errors.join("; ")}`);
    } finally {
      await browser.close();
      await server.close();
      await Deno.remove(profile, { recursive: true });
    }
  },
});
