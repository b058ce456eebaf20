// Procedural objects for the generated sprite set: class 2 food and class 3 spells and items
// (weapons, potions, books, wands, orbs, fire...). Each drawer fills a fresh 16x16 canvas.
import { type Dice, hsl, light, mix, type PixelCanvas, type Rgb, scale } from "./pixel_canvas.ts";

const CREAM: Rgb = [245, 235, 205];
const WOOD: Rgb = [130, 85, 45];
const GOLD: Rgb = [235, 190, 60];

type Drawer = (c: PixelCanvas, r: Dice) => void;

const FOODS: Drawer[] = [
  function fruit(c, r) {
    const body = r.pick<Rgb>([[215, 40, 40], [120, 200, 60], [245, 210, 50], [245, 140, 30], [
      140,
      50,
      150,
    ]]);
    if (r.chance(0.3)) {
      c.newPart().ellipse(8, 10, 5, 4.5, body).ellipse(8, 6.5, 3, 3, body); // pear
    } else c.newPart().ellipse(8, 9, r.range(5, 5.8), r.range(4.6, 5.4), body);
    c.newPart().line(8, 2, 8, 4, WOOD);
    if (r.chance(0.7)) c.newPart().ellipse(10.5, 3.5, 2, 1.2, [70, 160, 50]);
    c.shade();
    c.mark(5, 7, light(body, 0.7)).mark(5, 8, light(body, 0.5));
  },
  function bread(c, r) {
    const crust = hsl(r.range(25, 38), 0.6, r.range(0.4, 0.55));
    c.newPart().ellipse(8, 8.5, 6.6, 4.2, crust).rect(2, 9, 12, 3, crust);
    c.shade();
    for (const x of [5, 8, 11]) c.mark(x, 7, light(crust, 0.5)).mark(x - 1, 8, light(crust, 0.5));
  },
  function cake(c, r) {
    const sponge: Rgb = r.pick<Rgb>([[240, 210, 140], [120, 70, 40], [250, 190, 200]]);
    const icing = r.pick<Rgb>([[250, 245, 240], [250, 160, 190], [110, 60, 35], [170, 220, 250]]);
    c.newPart().rect(3, 8, 10, 6, sponge);
    c.newPart().rect(3, 6, 10, 2, icing).set(4, 8, icing).set(7, 8, icing).set(11, 8, icing);
    c.newPart().rect(3, 10, 10, 1, icing);
    c.newPart().ellipse(8, 4.5, 1.6, 1.6, [210, 30, 50]);
    c.shade();
    c.mark(7, 4, [255, 200, 200]);
  },
  function drumstick(c, r) {
    const meat = hsl(r.range(10, 30), 0.6, r.range(0.35, 0.45));
    c.newPart().ellipse(12.3, 11.5, 1.6, 1.6, CREAM).ellipse(11, 12.8, 1.6, 1.6, CREAM);
    c.newPart().line(8, 8, 11, 11, CREAM).line(9, 8, 11, 10, CREAM);
    c.newPart().ellipse(6.5, 6.5, 4.8, 4.2, meat);
    c.shade();
    c.mark(4, 4, light(meat, 0.5)).mark(5, 4, light(meat, 0.5));
  },
  function cheese(c, r) {
    const y = r.pick<Rgb>([[250, 210, 70], [245, 180, 50]]);
    c.newPart().polygon([[2, 12.5], [14, 12.5], [14, 7], [5, 4]], y);
    c.shade();
    for (let k = 0; k < 3; k++) c.mark(r.int(6, 12), r.int(8, 11), scale(y, 0.7));
  },
  function carrot(c, r) {
    const body = r.pick<Rgb>([[245, 130, 30], [220, 60, 60]]);
    c.newPart().polygon([[8.5, 3.5], [12.5, 7.5], [2.5, 13.5]], body);
    const leaf: Rgb = [70, 170, 60];
    c.newPart().line(11, 4, 13, 1, leaf).line(11, 4, 14, 3, leaf).line(10, 4, 10, 1, leaf);
    c.shade();
    c.mark(8, 8, scale(body, 0.7)).mark(6, 10, scale(body, 0.7));
  },
  function friedEgg(c, r) {
    c.newPart().ellipse(8, 8.5, 6.2, 4.6, [250, 248, 238]);
    c.newPart().ellipse(7.5 + r.int(0, 1), 8, 2.2, 2.1, [250, 190, 30]);
    c.shade(0.2, 0.9);
    c.mark(7, 7, [255, 235, 150]);
  },
  function grapes(c, r) {
    const g = r.pick<Rgb>([[130, 60, 160], [140, 200, 70], [90, 40, 110]]);
    const spots: [number, number][] = [[5, 6], [8, 6], [11, 6], [6.5, 8.7], [9.5, 8.7], [8, 11.4], [
      5,
      11,
    ], [11, 11]];
    for (const [x, y] of spots.slice(0, r.int(6, 8))) c.newPart().ellipse(x, y, 1.8, 1.8, g);
    c.newPart().line(8, 2, 8, 4, WOOD);
    c.newPart().ellipse(10, 3, 2, 1.1, [70, 160, 50]);
    c.shade();
  },
  function soup(c, r) {
    const bowl = r.pick<Rgb>([[230, 230, 235], [200, 110, 60], [90, 130, 200]]);
    const broth = r.pick<Rgb>([[230, 140, 40], [200, 60, 40], [130, 170, 70], [240, 220, 160]]);
    c.newPart().ellipse(8, 8, 6.5, 5.5, bowl, (_x, y) => y >= 8);
    c.newPart().rect(6, 13, 4, 1, bowl);
    c.newPart().ellipse(8, 8, 6, 1.6, broth);
    c.shade();
    for (const x of [6, 9]) c.mark(x, 4, [220, 220, 225]).mark(x + 1, 3, [220, 220, 225]);
  },
  function pizza(c, r) {
    c.newPart().polygon([[2, 3], [14, 3], [8, 14.5]], [250, 205, 90]);
    c.newPart().rect(2, 2, 12, 2, [200, 130, 50]);
    c.shade();
    const top = r.pick<Rgb>([[200, 40, 40], [90, 150, 50]]);
    for (const [x, y] of [[5, 5], [9, 6], [7, 9], [11, 5]]) c.mark(x, y, top);
  },
];

const ITEMS: Drawer[] = [
  function sword(c, r) {
    const blade = r.pick<Rgb>([[200, 205, 220], [230, 190, 80], [130, 200, 240], [220, 80, 80]]);
    c.newPart().polygon([[12.5, 1.5], [14.3, 1.7], [14, 3.5], [6.8, 10.8], [5.2, 9.2]], blade);
    c.newPart().line(3, 8, 7, 12, r.pick([GOLD, [150, 150, 160] as Rgb]));
    c.newPart().line(5, 11, 3, 13, r.pick([WOOD, [90, 50, 110] as Rgb]));
    c.newPart().set(2, 14, GOLD);
    c.shade();
    c.line(7, 8, 12, 3, light(blade, 0.6), true);
  },
  function potion(c, r) {
    const liquid = hsl(r.range(0, 360), 0.8, 0.5);
    const glass: Rgb = [215, 235, 245];
    if (r.chance(0.5)) c.newPart().ellipse(8, 10, 4.8, 4.2, glass);
    else c.newPart().polygon([[6, 6], [10, 6], [13, 14], [3, 14]], glass);
    c.newPart().rect(7, 4, 2, 3, glass);
    c.newPart().rect(6, 2, 4, 2, WOOD);
    c.recolor((_x, y) => y >= 9, liquid);
    c.shade(0.3, 0.8);
    c.mark(5, 10, [250, 250, 252]).mark(5, 11, [250, 250, 252]);
  },
  function book(c, r) {
    const cover = hsl(r.range(0, 360), r.range(0.4, 0.8), r.range(0.25, 0.45));
    c.newPart().rect(4, 3, 9, 11, CREAM);
    c.newPart().rect(3, 2, 9, 11, cover);
    c.newPart().rect(3, 2, 2, 11, scale(cover, 0.7));
    c.shade();
    const em = r.pick<Rgb>([GOLD, [220, 220, 230], [230, 60, 60]]);
    c.mark(8, 5, em).mark(7, 6, em).mark(9, 6, em).mark(8, 7, em).mark(8, 6, light(em, 0.5));
  },
  function staff(c, r) {
    const stick = r.pick<Rgb>([WOOD, [90, 60, 110], [170, 170, 180]]);
    c.newPart().line(3, 13, 10, 6, stick).line(4, 13, 11, 6, stick);
    const gem = hsl(r.range(0, 360), 0.85, 0.55);
    c.newPart().ellipse(11.5, 4.5, 2.4, 2.4, gem);
    c.shade();
    c.mark(11, 4, light(gem, 0.7));
    for (let k = 0; k < 3; k++) c.mark(r.int(5, 14), r.int(1, 8), light(gem, 0.4));
  },
  function orb(c, r) {
    const glow = hsl(r.range(0, 360), 0.7, 0.55);
    c.newPart().rect(4, 12, 8, 2, r.pick([GOLD, WOOD]));
    c.newPart().ellipse(8, 7.5, 4.8, 4.8, glow);
    c.shade(0.35, 0.7);
    c.mark(6, 5, light(glow, 0.8)).mark(6, 6, light(glow, 0.6)).mark(7, 5, light(glow, 0.6));
  },
  function fire(c, r) {
    const h = r.pick([15, 25, 200, 120, 280]);
    const outer = hsl(h, 0.9, 0.5);
    const j = () => r.range(-0.7, 0.7);
    c.newPart().polygon([
      [8 + j(), 1.5],
      [10.5, 5 + j()],
      [12.5 + j(), 8.5],
      [12, 12],
      [8, 14],
      [4, 12],
      [3.5 + j(), 8.5],
      [5.5, 5 + j()],
    ], outer);
    c.newPart().polygon(
      [[8, 6 + j()], [10.5, 10], [9.5, 12.5], [6.5, 12.5], [5.5, 10]],
      hsl(h + 30, 1, 0.65),
    );
    c.shade(0.2, 0.8);
    c.mark(8, 11, [255, 250, 210]).mark(7, 11, [255, 250, 210]);
  },
  function shield(c, r) {
    const face = hsl(r.range(0, 360), 0.6, 0.45);
    const rim = r.pick<Rgb>([GOLD, [170, 175, 190]]);
    c.newPart().polygon([[2.5, 2.5], [13.5, 2.5], [13.5, 8], [8, 14.5], [2.5, 8]], rim);
    c.newPart().polygon([[3.5, 3.5], [12.5, 3.5], [12.5, 8], [8, 13], [3.5, 8]], face);
    c.shade();
    c.line(8, 4, 8, 11, rim, true).line(5, 7, 11, 7, rim, true);
  },
  function crystal(c, r) {
    const gem = hsl(r.range(0, 360), 0.75, 0.55);
    c.newPart().polygon([[8, 1.5], [13, 6], [8, 14.5], [3, 6]], gem);
    c.shade(0.3, 0.7);
    c.line(3, 6, 12, 6, light(gem, 0.5), true);
    c.line(8, 2, 8, 13, mix(gem, [255, 255, 255], 0.3), true);
  },
  function scroll(c, r) {
    const paper: Rgb = [240, 225, 185];
    c.newPart().rect(4, 4, 8, 8, paper);
    c.newPart().rect(3, 2, 10, 2, scale(paper, 0.8));
    c.newPart().rect(3, 12, 10, 2, scale(paper, 0.8));
    c.shade();
    const ink = r.pick<Rgb>([[60, 40, 30], [150, 30, 30]]);
    for (const y of [6, 8, 10]) c.line(5, y, r.int(8, 10), y, ink, true);
  },
];

/** Class 2: food (fruit, bread, cake, drumstick, cheese, carrot, egg, grapes, soup, pizza). */
export function drawFood(c: PixelCanvas, r: Dice): void {
  r.pick(FOODS)(c, r);
  c.outline();
}

/** Class 3: spells and items (sword, potion, book, staff, orb, fire, shield, crystal, scroll). */
export function drawItem(c: PixelCanvas, r: Dice): void {
  r.pick(ITEMS)(c, r);
  c.outline();
}
