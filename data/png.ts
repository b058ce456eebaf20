// PNG output for sprite grids (dataset montages, samples): fast-png encodes, this file lays out.
import { decode, encode } from "fast-png";

/** An 8-bit RGB PNG of `rgb` ([height, width, 3] uint8). */
export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (rgb.length !== width * height * 3) {
    throw new Error(`encodePng: ${rgb.length} bytes for ${width}x${height} RGB`);
  }
  return encode({ width, height, data: rgb, channels: 3, depth: 8 });
}

/** Decodes an 8-bit RGB or RGBA PNG to RGB (for tests and for looking at files). */
export function decodePngRgb(png: Uint8Array): { rgb: Uint8Array; width: number; height: number } {
  const img = decode(png);
  if (img.depth !== 8 || (img.channels !== 3 && img.channels !== 4)) {
    throw new Error(
      `decodePngRgb: want 8-bit RGB(A), got ${img.depth}-bit ${img.channels} channels`,
    );
  }
  const n = img.width * img.height;
  const rgb = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < 3; k++) rgb[p * 3 + k] = Number(img.data[p * img.channels + k]);
  }
  return { rgb, width: img.width, height: img.height };
}

export interface SpriteGridOptions {
  /** Size of one sprite; default 16x16. */
  spriteHeight?: number;
  spriteWidth?: number;
  /** Pixels between cells and around the grid, after scaling; default 2. */
  gap?: number;
  gapColor?: readonly [number, number, number];
}

/**
 * Lays sprites out row by row in a rows x cols grid, each scaled up `scale` times (nearest
 * neighbour, so pixels stay crisp). `images`: a list of [H, W, 3] uint8, or one flat [N, H, W, 3].
 * Cells past the last sprite stay the gap colour.
 */
export function spriteGrid(
  images: Uint8Array[] | Uint8Array,
  rows: number,
  cols: number,
  scale: number,
  opts: SpriteGridOptions = {},
): { rgb: Uint8Array; width: number; height: number } {
  const h = opts.spriteHeight ?? 16;
  const w = opts.spriteWidth ?? 16;
  const gap = opts.gap ?? 2;
  const gapColor = opts.gapColor ?? [128, 128, 128];
  const px = h * w * 3;
  const list = Array.isArray(images)
    ? images
    : Array.from({ length: Math.floor(images.length / px) }, (_, i) =>
      images.subarray(i * px, (i + 1) * px));
  const width = cols * (w * scale + gap) + gap;
  const height = rows * (h * scale + gap) + gap;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set(gapColor, p * 3);
  for (let n = 0; n < Math.min(list.length, rows * cols); n++) {
    const img = list[n];
    if (img.length !== px) {
      throw new Error(`spriteGrid: sprite ${n} has ${img.length} bytes, want ${px}`);
    }
    const ox = gap + (n % cols) * (w * scale + gap);
    const oy = gap + Math.floor(n / cols) * (h * scale + gap);
    for (let y = 0; y < h * scale; y++) {
      for (let x = 0; x < w * scale; x++) {
        const s = (Math.floor(y / scale) * w + Math.floor(x / scale)) * 3;
        rgb.set(img.subarray(s, s + 3), ((oy + y) * width + ox + x) * 3);
      }
    }
  }
  return { rgb, width, height };
}
