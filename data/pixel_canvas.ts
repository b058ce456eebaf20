// A 16x16 pixel-art canvas for the procedural sprites: filled shapes in parts, then light from
// the top left (each part lit on its upper-left edge, shadowed on its lower-right edge), then a
// 1-pixel dark outline around the silhouette, as hand-drawn sprites have.

export type Rgb = readonly [number, number, number];

export const SIZE = 16;
export const WHITE: Rgb = [255, 255, 255];

/** Part id of eyes, highlights and other marks that neither get nor cause shading. */
const DETAIL = 255;

export function clampRgb(c: readonly number[]): Rgb {
  const f = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  return [f(c[0]), f(c[1]), f(c[2])];
}

export function scale(c: Rgb, k: number): Rgb {
  return clampRgb([c[0] * k, c[1] * k, c[2] * k]);
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return clampRgb([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]);
}

/** h in [0, 360), s and l in [0, 1]. */
export function hsl(h: number, s: number, l: number): Rgb {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  return clampRgb([f(0) * 255, f(8) * 255, f(4) * 255]);
}

/** Lighter shade that moves towards warm white, as pixel artists light a colour. */
export function light(c: Rgb, t = 0.3): Rgb {
  return mix(c, [255, 250, 230], t);
}

export type Where = (x: number, y: number) => boolean;

export class PixelCanvas {
  readonly color = new Uint8Array(SIZE * SIZE * 3);
  /** 0 = empty, else the part id + 1 (DETAIL + 1 for marks). */
  readonly part = new Uint8Array(SIZE * SIZE);
  private currentPart = 1;

  /** Starts a new shape: shading treats the boundary between parts as an edge. */
  newPart(): this {
    this.currentPart = Math.min(this.currentPart + 1, DETAIL - 1);
    return this;
  }

  filled(x: number, y: number): boolean {
    return x >= 0 && y >= 0 && x < SIZE && y < SIZE && this.part[y * SIZE + x] !== 0;
  }

  set(x: number, y: number, c: Rgb, detail = false): this {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= SIZE || y >= SIZE) return this;
    const p = y * SIZE + x;
    this.color.set(c, p * 3);
    this.part[p] = (detail ? DETAIL : this.currentPart) + 1;
    return this;
  }

  /** A mark drawn over shapes (eyes, highlights): not shaded and not an edge for shading. */
  mark(x: number, y: number, c: Rgb): this {
    return this.set(x, y, c, true);
  }

  get(x: number, y: number): Rgb {
    const p = (y * SIZE + x) * 3;
    return [this.color[p], this.color[p + 1], this.color[p + 2]];
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): this {
    for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) this.set(i, j, c);
    return this;
  }

  /** Pixels whose centres lie in the ellipse (centre and radii in pixel units). */
  ellipse(cx: number, cy: number, rx: number, ry: number, c: Rgb, where?: Where): this {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const dx = (x + 0.5 - cx) / rx;
        const dy = (y + 0.5 - cy) / ry;
        if (dx * dx + dy * dy <= 1 && (!where || where(x, y))) this.set(x, y, c);
      }
    }
    return this;
  }

  /** Pixels whose centres lie inside the polygon (even-odd rule). */
  polygon(points: [number, number][], c: Rgb, where?: Where): this {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        let inside = false;
        for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
          const [xi, yi] = points[i];
          const [xj, yj] = points[j];
          if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) {
            inside = !inside;
          }
        }
        if (inside && (!where || where(x, y))) this.set(x, y, c);
      }
    }
    return this;
  }

  /** A 1-pixel line between pixel coordinates (Bresenham). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, detail = false): this {
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.set(x0, y0, c, detail);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
    return this;
  }

  /** Recolours the filled pixels that `where` selects (stripes, spots, gradients). */
  recolor(where: Where, c: Rgb): this {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        if (this.filled(x, y) && where(x, y)) this.color.set(c, (y * SIZE + x) * 3);
      }
    }
    return this;
  }

  private edge(x: number, y: number, own: number): boolean {
    if (x < 0 || y < 0 || x >= SIZE || y >= SIZE) return true;
    const p = this.part[y * SIZE + x];
    return p === 0 || (p !== own && p !== DETAIL + 1);
  }

  /** Light from the top left: lit upper-left edges, shadowed lower-right edges of each part. */
  shade(lit = 0.22, shadow = 0.75): this {
    const next = this.color.slice();
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const own = this.part[y * SIZE + x];
        if (own === 0 || own === DETAIL + 1) continue;
        const c = this.get(x, y);
        let out: Rgb | null = null;
        if (this.edge(x + 1, y, own) || this.edge(x, y + 1, own)) out = scale(c, shadow);
        else if (this.edge(x - 1, y, own) || this.edge(x, y - 1, own)) out = light(c, lit);
        if (out) next.set(out, (y * SIZE + x) * 3);
      }
    }
    this.color.set(next);
    return this;
  }

  /** A dark outline on every empty pixel that touches the shape (4-neighbours). */
  outline(darkness = 0.3): this {
    const add: [number, number, Rgb][] = [];
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        if (this.filled(x, y)) continue;
        const near = [[x + 1, y], [x - 1, y], [x, y + 1], [x, y - 1]].filter(([i, j]) =>
          this.filled(i, j)
        );
        if (near.length === 0) continue;
        const c = this.get(near[0][0], near[0][1]);
        add.push([x, y, mix(scale(c, darkness), [24, 18, 30], 0.5)]);
      }
    }
    for (const [x, y, c] of add) this.mark(x, y, c);
    return this;
  }

  mirror(): this {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE / 2; x++) {
        const a = y * SIZE + x;
        const b = y * SIZE + SIZE - 1 - x;
        [this.part[a], this.part[b]] = [this.part[b], this.part[a]];
        for (let k = 0; k < 3; k++) {
          [this.color[a * 3 + k], this.color[b * 3 + k]] = [
            this.color[b * 3 + k],
            this.color[a * 3 + k],
          ];
        }
      }
    }
    return this;
  }

  /** Moves the drawing by (dx, dy); what leaves the canvas is lost. */
  shift(dx: number, dy: number): this {
    const color = this.color.slice();
    const part = this.part.slice();
    this.color.fill(0);
    this.part.fill(0);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const sx = x - dx;
        const sy = y - dy;
        if (sx < 0 || sy < 0 || sx >= SIZE || sy >= SIZE) continue;
        const s = sy * SIZE + sx;
        this.part[y * SIZE + x] = part[s];
        this.color.set(color.subarray(s * 3, s * 3 + 3), (y * SIZE + x) * 3);
      }
    }
    return this;
  }

  /** Bounding box of the filled pixels. */
  bounds(): { x0: number; y0: number; x1: number; y1: number } {
    let x0 = SIZE, y0 = SIZE, x1 = -1, y1 = -1;
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        if (!this.filled(x, y)) continue;
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
    return { x0, y0, x1, y1 };
  }

  /** [16, 16, 3] uint8 with `background` in the empty pixels. */
  toRgb(background: Rgb = WHITE): Uint8Array {
    const out = new Uint8Array(SIZE * SIZE * 3);
    for (let p = 0; p < SIZE * SIZE; p++) {
      out.set(this.part[p] ? this.color.subarray(p * 3, p * 3 + 3) : background, p * 3);
    }
    return out;
  }
}

/** The drawing dice: splitmix32 behind a few helpers. */
export class Dice {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}
