// The page in a real browser: Debian's Chromium, headless, driven by playwright-core against a
// running server with a tiny model, without WebGPU: the page falls back to the server and says so.
// The five grids appear with real images, a new seed changes them, and an error from the API is
// shown. Screenshots go to $TMPDIR (default /tmp).
import { ok } from "node:assert/strict";
import { startTestServer } from "../routes/helpers.ts";
import { launchChromium, skipBrowser } from "./chromium.ts";

const shots = Deno.env.get("TMPDIR") ?? "/tmp";

Deno.test({
  name: "the page without WebGPU: the server's five grids, a new seed changes them, errors shown",
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startTestServer();
    const browser = await launchChromium({ viewport: { width: 390, height: 844 } });
    try {
      const page = await browser.context.newPage();
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
      const toggle = page.locator("#on-device");
      ok(!(await toggle.isChecked()) && await toggle.isDisabled(), "no WebGPU: the server's");
      const note = await page.locator("#engine-note").innerText();
      ok(/on the server: this browser gives no WebGPU adapter/.test(note), note);
      ok(/on the server/.test(await page.locator("#timing").innerText()));
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
    }
  },
});

Deno.test({
  name: "the page with WebGPU but a model without files: the server's grids, and the reason shown",
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startTestServer(); // random init: /api/model/files/ has nothing
    const browser = await launchChromium({ webgpu: true });
    try {
      const page = await browser.context.newPage();
      await page.goto(server.url + "/");
      await page.waitForFunction(
        () => /on the server/.test(document.querySelector("#timing")?.textContent ?? ""),
        undefined,
        { timeout: 60_000 },
      );
      const toggle = page.locator("#on-device");
      ok(!(await toggle.isChecked()) && await toggle.isDisabled());
      const note = await page.locator("#engine-note").innerText();
      ok(/on the server: .*config\.json: 404/.test(note), note);
      ok((await page.locator("img.sprites").count()) === 5);
    } finally {
      await browser.close();
      await server.close();
    }
  },
});
