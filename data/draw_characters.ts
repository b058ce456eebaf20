// Procedural characters for the generated sprite set: class 0 front-facing humans, class 1
// non-human creatures, class 4 side-facing humans. Each drawer fills a fresh 16x16 canvas.
import { type Dice, hsl, light, mix, type PixelCanvas, type Rgb, scale } from "./pixel_canvas.ts";

const SKINS: Rgb[] = [
  [255, 224, 189],
  [241, 194, 125],
  [224, 172, 105],
  [198, 134, 66],
  [141, 85, 36],
  [100, 64, 40],
];
const FANTASY_SKINS: Rgb[] = [[120, 180, 100], [150, 165, 215], [215, 215, 220]];
const HAIRS: Rgb[] = [
  [40, 30, 30],
  [90, 55, 30],
  [150, 100, 50],
  [235, 195, 90],
  [190, 70, 40],
  [225, 225, 230],
  [70, 90, 200],
  [220, 110, 170],
  [120, 120, 130],
];
const EYE: Rgb = [28, 22, 36];

function cloth(r: Dice): Rgb {
  return hsl(r.range(0, 360), r.range(0.35, 0.8), r.range(0.3, 0.55));
}

function skinOf(r: Dice): Rgb {
  return r.chance(0.85) ? r.pick(SKINS) : r.pick(FANTASY_SKINS);
}

type Headwear = "short" | "long" | "spiky" | "bald" | "hat" | "helmet" | "hood";

/** Hair or headgear over a head centred at (cx, 5.5); `back` is hair behind a profile face. */
function headwear(
  c: PixelCanvas,
  r: Dice,
  style: Headwear,
  cx: number,
  hair: Rgb,
  profile: boolean,
) {
  const cover = (x: number, y: number) =>
    y <= 3 || (profile ? x <= cx - 1 && y <= 7 : y === 4 && Math.abs(x + 0.5 - cx) >= 2.5);
  switch (style) {
    case "short":
    case "long":
    case "spiky":
      c.newPart().ellipse(cx, 5, 4.5, 4.1, hair, cover);
      if (style === "long") {
        if (profile) c.rect(Math.round(cx) - 4, 4, 2, 6, hair);
        else c.rect(Math.round(cx) - 4, 4, 1, 6, hair).rect(Math.round(cx) + 3, 4, 1, 6, hair);
      }
      if (style === "spiky") {
        for (const x of [cx - 3.5, cx - 1, cx + 1.5]) c.set(x, 1, hair);
        c.set(cx - 4.5, 2, hair).set(cx + 3.5, 2, hair);
      }
      break;
    case "bald":
      if (r.chance(0.5)) c.newPart().rect(Math.round(cx) - 2, 8, 4, 1, hair); // beard
      break;
    case "hat": {
      const hat = r.chance(0.5) ? cloth(r) : hsl(r.range(200, 300), 0.5, 0.35);
      c.newPart().rect(Math.round(cx) - 5, 3, 10, 1, hat);
      const tip = cx + (profile ? -2.5 : r.pick([-2, 2]));
      c.newPart().polygon([[cx - 3, 3.2], [cx + 3, 3.2], [tip, 0.2]], hat);
      break;
    }
    case "helmet": {
      const steel = r.pick<Rgb>([[170, 175, 190], [200, 165, 80], [150, 110, 80]]);
      c.newPart().ellipse(
        cx,
        5,
        4.6,
        4.2,
        steel,
        (x, y) => y <= 4 || (profile && x <= cx - 1 && y <= 6),
      );
      if (!profile) c.rect(Math.round(cx) - 1, 5, 2, 1, steel);
      if (r.chance(0.4)) {
        c.newPart().rect(Math.round(cx) - 6, 1, 1, 3, [235, 230, 210]).rect(
          Math.round(cx) + 5,
          1,
          1,
          3,
          [235, 230, 210],
        );
      }
      break;
    }
    case "hood":
      break; // drawn around the face by the caller
  }
}

/** Class 0: a front-facing chibi character: big head, hair or hat, shirt, arms, legs. */
export function drawHuman(c: PixelCanvas, r: Dice): void {
  const skin = skinOf(r);
  const hair = r.pick(HAIRS);
  const shirt = cloth(r);
  const pants = r.chance(0.5) ? cloth(r) : scale(shirt, 0.6);
  const shoes = hsl(r.range(0, 40), 0.45, 0.2);
  const robe = r.chance(0.25);
  const style = r.pick<Headwear>([
    "short",
    "short",
    "long",
    "spiky",
    "bald",
    "hat",
    "helmet",
    "hood",
  ]);

  if (robe) c.newPart().polygon([[5, 9], [11, 9], [12.5, 15], [3.5, 15]], shirt);
  else {
    c.newPart().rect(6, 12, 2, 2, pants);
    c.newPart().rect(8, 12, 2, 2, pants);
    c.newPart().rect(5, 14, 3, 1, shoes);
    c.newPart().rect(8, 14, 3, 1, shoes);
  }
  c.newPart().rect(5, 9, 6, 3, shirt);
  if (!robe && r.chance(0.5)) c.newPart().rect(5, 11, 6, 1, hsl(r.range(20, 50), 0.5, 0.25));
  const sleeve = r.chance(0.7) ? scale(shirt, 0.85) : skin;
  c.newPart().rect(4, 9, 1, 3, sleeve).set(4, 12, skin);
  c.newPart().rect(11, 9, 1, 3, sleeve).set(11, 12, skin);
  if (r.chance(0.2)) {
    const stick = r.pick<Rgb>([[120, 80, 40], [180, 180, 195]]);
    c.newPart().rect(12, 4, 1, 11, stick);
    c.newPart().ellipse(12.5, 3.5, 1.3, 1.3, hsl(r.range(0, 360), 0.8, 0.6));
  }

  if (style === "hood") {
    const hood = r.chance(0.5) ? shirt : cloth(r);
    c.newPart().ellipse(8, 5.6, 4.6, 4.4, hood);
    c.newPart().ellipse(8, 6.3, 3.1, 2.6, skin);
  } else {
    c.newPart().ellipse(8, 5.5, 4, 3.6, skin);
  }
  headwear(c, r, style, 8, hair, false);
  c.shade();
  const eye = r.chance(0.8) ? EYE : hsl(r.range(0, 360), 0.7, 0.35);
  const tall = r.chance(0.4);
  for (const x of [6, 9]) {
    c.mark(x, 6, eye);
    if (tall) c.mark(x, 5, eye);
  }
  if (r.chance(0.3)) c.mark(6.5, 8, scale(skin, 0.7)).mark(8.5, 8, scale(skin, 0.7));
  c.outline();
}

/** Class 4: a character in profile, facing right (mirrored half the time), often mid-step. */
export function drawSideFacing(c: PixelCanvas, r: Dice): void {
  const skin = skinOf(r);
  const hair = r.pick(HAIRS);
  const shirt = cloth(r);
  const pants = r.chance(0.5) ? cloth(r) : scale(shirt, 0.6);
  const shoes = hsl(r.range(0, 40), 0.45, 0.2);
  const style = r.pick<Headwear>(["short", "short", "long", "spiky", "bald", "hat", "helmet"]);
  const walking = r.chance(0.6);

  if (r.chance(0.3)) c.newPart().rect(3, 9, 2, 3, hsl(r.range(15, 40), 0.5, 0.35)); // backpack
  else if (r.chance(0.25)) {
    c.newPart().polygon([[5, 8.5], [6.5, 8.5], [5.5, 14], [3, 14]], cloth(r)); // cape
  }
  if (walking) {
    c.newPart().rect(5, 12, 2, 1, pants).rect(4, 13, 2, 1, pants);
    c.newPart().rect(3, 14, 3, 1, shoes);
    c.newPart().rect(7, 12, 2, 1, pants).rect(8, 13, 2, 1, pants);
    c.newPart().rect(8, 14, 3, 1, shoes);
  } else {
    c.newPart().rect(6, 12, 3, 2, pants);
    c.newPart().rect(6, 14, 4, 1, shoes);
  }
  c.newPart().rect(5, 9, 5, 3, shirt);
  const sleeve = scale(shirt, 0.8);
  c.newPart().rect(7, 9, 2, 1, sleeve).rect(8, 10, 2, 1, sleeve);
  c.newPart().set(10, 10, skin);
  if (r.chance(0.3)) {
    const blade = r.pick<Rgb>([[200, 205, 220], [230, 190, 80]]);
    c.newPart().line(11, 9, 14, 6, blade);
  }
  c.newPart().ellipse(7.5, 5.5, 3.8, 3.6, skin);
  c.set(11, 6, skin); // nose
  headwear(c, r, style, 7.5, hair, true);
  c.shade();
  c.mark(9, 6, EYE);
  if (r.chance(0.5)) c.mark(9, 5, EYE);
  c.mark(7, 6, scale(skin, 0.75)); // ear
  c.outline();
  if (r.chance(0.5)) c.mirror();
}

type Creature = (c: PixelCanvas, r: Dice, body: Rgb) => void;

function eyes(c: PixelCanvas, xs: number[], y: number, tall: boolean, color: Rgb = EYE) {
  for (const x of xs) {
    c.mark(x, y, color);
    if (tall) c.mark(x, y - 1, color);
  }
}

const CREATURES: Creature[] = [
  function slime(c, r, body) {
    c.newPart().ellipse(8, 11, r.range(5, 6.2), r.range(4.5, 6.5), body, (_x, y) => y <= 13);
    c.shade();
    eyes(c, [6, 9], 10, r.chance(0.6));
    c.mark(4.5, 8, light(body, 0.7));
    if (r.chance(0.4)) c.mark(7.5, 12, scale(body, 0.4)).mark(8.5, 12, scale(body, 0.4));
  },
  function mushroom(c, r, body) {
    const stem: Rgb = mix([240, 225, 195], body, 0.1);
    c.newPart().rect(5, 9, 6, 5, stem);
    c.newPart().ellipse(8, 8, r.range(6, 7), r.range(5, 6), body, (_x, y) => y <= 8);
    c.shade();
    for (let k = 0; k < 4; k++) c.mark(r.int(4, 11), r.int(4, 7), [248, 244, 235]);
    eyes(c, [6, 9], 11, true);
  },
  function ghost(c, r, body) {
    c.newPart().ellipse(8, 7.5, 5, 5.5, body, (_x, y) => y <= 8).rect(3, 8, 10, 5, body);
    for (const x of [3, 4, 7, 8, 11, 12]) c.set(x, 13, body);
    c.shade(0.3, 0.85);
    eyes(c, [6, 9], 8, true);
    if (r.chance(0.6)) c.mark(7.5, 10.5, scale(body, 0.3)).mark(8.5, 10.5, scale(body, 0.3));
  },
  function bat(c, r, body) {
    const wing = scale(body, 0.8);
    c.newPart().polygon([[6.5, 7], [1, 4], [2, 9], [4, 8], [6.5, 11]], wing);
    c.newPart().polygon([[9.5, 7], [15, 4], [14, 9], [12, 8], [9.5, 11]], wing);
    c.newPart().ellipse(8, 8.5, 2.6, 3.2, body).set(6, 4, body).set(9, 4, body);
    c.shade();
    eyes(c, [7, 8], 7, false, r.pick<Rgb>([[230, 40, 40], [250, 220, 60]]));
  },
  function cyclops(c, r, body) {
    const horn: Rgb = [235, 230, 210];
    c.newPart().polygon([[4, 5], [2.5, 1], [6.5, 3.5]], horn);
    c.newPart().polygon([[12, 5], [13.5, 1], [9.5, 3.5]], horn);
    c.newPart().rect(4, 12, 3, 2, scale(body, 0.8)).rect(9, 12, 3, 2, scale(body, 0.8));
    c.newPart().ellipse(8, 8, 5.8, 5.2, body);
    c.newPart().ellipse(8, 6.5, 2.9, 2.6, [245, 242, 235]);
    c.shade();
    const iris = hsl(r.range(0, 360), 0.8, 0.4);
    c.rect(7, 5, 2, 3, iris).mark(7, 6, EYE).mark(8, 6, EYE);
    for (let x = 5; x <= 10; x++) c.mark(x, 10, x % 2 ? [250, 250, 245] : scale(body, 0.3));
  },
  function beast(c, r, body) {
    const horns = r.chance(0.4);
    const ear = horns ? ([235, 230, 210] as Rgb) : body;
    c.newPart().polygon([[3, 7], [3.5, 2], [7, 5]], ear);
    c.newPart().polygon([[13, 7], [12.5, 2], [9, 5]], ear);
    c.newPart().rect(4, 12, 3, 2, scale(body, 0.85));
    c.newPart().rect(9, 12, 3, 2, scale(body, 0.85));
    c.newPart().ellipse(8, 8.5, 5.5, 4.6, body);
    c.newPart().ellipse(8, 10.3, 2.2, 1.5, light(body, 0.5));
    c.shade();
    eyes(c, [5, 10], 8, r.chance(0.5));
    c.mark(7.5, 9.5, EYE).mark(8.5, 9.5, EYE);
  },
  function beetle(c, r, body) {
    const dark = scale(body, 0.35);
    for (const y of [7, 9, 11]) c.newPart().rect(2, y, 12, 1, dark);
    c.newPart().line(6, 3, 5, 1, dark).line(9, 3, 10, 1, dark);
    c.newPart().ellipse(8, 4.5, 2.6, 1.8, dark);
    c.newPart().ellipse(8, 9.5, 4.8, 4.6, body);
    c.shade();
    c.line(8, 6, 8, 13, scale(body, 0.45), true);
    for (let k = 0; k < 4; k++) c.mark(r.pick([5, 6, 10, 11]), r.int(7, 12), dark);
    eyes(c, [7, 9], 4, false, r.pick<Rgb>([[230, 40, 40], [250, 240, 240]]));
  },
  function bird(c, r, body) {
    c.line(7, 13, 7, 14, [230, 150, 40], true).line(9, 13, 9, 14, [230, 150, 40], true);
    c.newPart().ellipse(7.5, 9.5, 4.6, 3.8, body);
    c.newPart().ellipse(10, 5.5, 2.7, 2.6, body);
    c.newPart().polygon([[12, 4.6], [14.8, 6], [12, 7]], [240, 170, 40]);
    c.newPart().ellipse(6.5, 9.5, 2.8, 2, scale(body, 0.75));
    c.shade();
    c.mark(10, 5, EYE);
    if (r.chance(0.5)) c.mirror();
  },
  function droplet(c, r, body) {
    c.newPart().polygon([[8, 1.5], [12.5, 9], [12, 12.5], [8, 14], [4, 12.5], [3.5, 9]], body);
    c.shade();
    eyes(c, [6, 9], 10, r.chance(0.5));
    c.mark(5, 7, light(body, 0.7));
  },
  function fish(c, r, body) {
    c.newPart().polygon([[10.5, 8], [14.5, 4.5], [14.5, 11.5]], scale(body, 0.85));
    c.newPart().ellipse(7, 8, 5.2, 3.8, body);
    c.newPart().polygon([[5, 4.8], [8, 3], [9, 5]], scale(body, 0.8));
    c.shade();
    c.mark(4, 7, EYE);
    c.line(8, 6, 8, 10, scale(body, 0.7), true);
    if (r.chance(0.5)) c.mirror();
  },
];

/** Class 1: a creature (slime, mushroom, ghost, bat, cyclops, beast, beetle, bird, droplet, fish). */
export function drawCreature(c: PixelCanvas, r: Dice): void {
  const kind = r.pick(CREATURES);
  const body = kind === CREATURES[2]
    ? hsl(r.range(0, 360), 0.35, 0.85)
    : hsl(r.range(0, 360), r.range(0.45, 0.85), r.range(0.4, 0.6));
  kind(c, r, body);
  c.outline();
}
