import { decodePngRgb, encodePng, spriteGrid } from "../../data/png.ts";
import { assert, assertEquals } from "./helpers.ts";
import { makeRng } from "../util.ts";

Deno.test("png: encodePng round-trips RGB through a PNG decoder", () => {
  const rng = makeRng();
  const [w, h] = [5 + Math.floor(rng.next() * 30), 3 + Math.floor(rng.next() * 20)];
  const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(rng.next() * 256));
  const png = encodePng(rgb, w, h);
  assertEquals(Array.from(png.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const back = decodePngRgb(png);
  assertEquals([back.width, back.height], [w, h]);
  assertEquals(Array.from(back.rgb), Array.from(rgb), `seed ${rng.seed}`);
});

Deno.test("png: spriteGrid scales each sprite into its cell, gaps in the gap colour", () => {
  const rng = makeRng();
  const [sh, sw, scale, gap, rows, cols] = [3, 5, 3, 2, 2, 3];
  const n = 5; // one cell stays empty
  const flat = Uint8Array.from({ length: n * sh * sw * 3 }, () => Math.floor(rng.next() * 256));
  const opts = { spriteHeight: sh, spriteWidth: sw, gap, gapColor: [1, 2, 3] as const };
  const grid = spriteGrid(flat, rows, cols, scale, opts);
  assertEquals([grid.width, grid.height], [
    cols * (sw * scale + gap) + gap,
    rows * (sh * scale + gap) + gap,
  ]);
  const at = (x: number, y: number) =>
    Array.from(grid.rgb.subarray((y * grid.width + x) * 3, (y * grid.width + x) * 3 + 3));
  for (let y = 0; y < grid.height; y++) {
    for (let x = 0; x < grid.width; x++) {
      const cx = x - gap, cy = y - gap;
      const col = Math.floor(cx / (sw * scale + gap)), row = Math.floor(cy / (sh * scale + gap));
      const ix = cx - col * (sw * scale + gap), iy = cy - row * (sh * scale + gap);
      const k = row * cols + col;
      const inside = cx >= 0 && cy >= 0 && ix < sw * scale && iy < sh * scale && k < n;
      const p = ((k * sh + Math.floor(iy / scale)) * sw + Math.floor(ix / scale)) * 3;
      const want = inside ? Array.from(flat.subarray(p, p + 3)) : [1, 2, 3];
      assertEquals(at(x, y), want, `pixel (${x}, ${y}) (seed ${rng.seed})`);
    }
  }
  // A list of sprites lays out the same as the flat array.
  const list = [...Array(n).keys()].map((i) =>
    flat.subarray(i * sh * sw * 3, (i + 1) * sh * sw * 3)
  );
  assert(
    spriteGrid(list, rows, cols, scale, opts).rgb.every((v, i) => v === grid.rgb[i]),
    "list != flat",
  );
});
