// @ts-check
// Day and night from the world's game clock: dawn, day, dusk and night as a tint laid over
// the town and its people, house windows lit after dark, and a lantern's glow round each
// person so they stay easy to find. Names and words are drawn after it, untinted, so they
// read as well at midnight as at noon. The hour is the game time's hour where the page is
// viewed: with time at its usual pace the town keeps the viewer's own day.

/** @import { WorldMap } from "./types.js" */

/** @typedef {"dawn" | "day" | "dusk" | "night"} Phase */
/** @typedef {[number, number, number]} Rgb */

/**
 * The light at an hour: its phase; the colour multiplied over the town (white changes
 * nothing); and how lit the lamps are, 0 (by day) to 1 (at night).
 * @typedef {{hour: number, phase: Phase, tint: Rgb, lamps: number}} Light
 */

const DAY = /** @type {Rgb} */ ([255, 255, 255]);
const NIGHT = /** @type {Rgb} */ ([70, 82, 140]);
const DAWN = /** @type {Rgb} */ ([236, 196, 186]);
const DUSK = /** @type {Rgb} */ ([238, 172, 128]);

/** The day's turning points: hour, tint, lamps. Between two, each changes evenly. */
const KEYS = /** @type {[number, Rgb, number][]} */ ([
  [0, NIGHT, 1],
  [5, NIGHT, 1],
  [6.25, DAWN, 0.4],
  [7.5, DAY, 0],
  [17.5, DAY, 0],
  [19, DUSK, 0.5],
  [20.5, NIGHT, 1],
  [24, NIGHT, 1],
]);

/**
 * Where our own tile set has window panes, in a tile's pixels: tile index to panes.
 * Maps drawn with another tile set get no lit windows, only the tint and lanterns.
 * @type {Record<string, Record<number, [number, number, number, number][]>>}
 */
const WINDOWS = {
  "/assets/town-tiles.png": { 10: [[10, 10, 5, 10], [17, 10, 5, 10]] },
};
const PANE = "#ffd36b";
const GLOW = "rgba(255, 196, 92, 0.55)";

/**
 * The hour of the day (0 to 24, fractional) at a game time, where the page is viewed.
 * @param {number} gameTime ms since the epoch
 */
export function hourOf(gameTime) {
  const d = new Date(gameTime);
  return d.getHours() + d.getMinutes() / 60 + d.getSeconds() / 3600;
}

/**
 * @param {number} hour 0 to 24
 * @returns {Phase}
 */
function phaseOf(hour) {
  if (hour < 5 || hour >= 20.5) return "night";
  if (hour < 7.5) return "dawn";
  if (hour < 17.5) return "day";
  return "dusk";
}

/**
 * The light at an hour of the day.
 * @param {number} hour 0 to 24
 * @returns {Light}
 */
export function lightAt(hour) {
  const h = ((hour % 24) + 24) % 24;
  let i = 0;
  while (i < KEYS.length - 2 && KEYS[i + 1][0] <= h) i++;
  const [h0, c0, l0] = KEYS[i];
  const [h1, c1, l1] = KEYS[i + 1];
  const f = h1 > h0 ? (h - h0) / (h1 - h0) : 0;
  const tint = /** @type {Rgb} */ (c0.map((v, k) => Math.round(v + (c1[k] - v) * f)));
  return { hour: h, phase: phaseOf(h), tint, lamps: l0 + (l1 - l0) * f };
}

export class Daylight {
  constructor() {
    /** @type {HTMLCanvasElement | null} the lit panes and their glow, drawn once a map */
    this.windows = null;
    /** @type {Light} the last frame's light, for tests */
    this.light = lightAt(12);
  }

  /**
   * A new map: where its windows are (if its tile set is one we know).
   * @param {WorldMap} map
   */
  setMap(map) {
    this.windows = null;
    const panes = WINDOWS[map.tileSetUrl];
    if (!panes) return;
    const tile = map.tileDim;
    const canvas = document.createElement("canvas");
    canvas.width = map.width * tile;
    canvas.height = map.height * tile;
    const g = canvas.getContext("2d");
    if (!g) return;
    for (const layer of [...map.bgTiles, ...map.objectTiles]) {
      for (let x = 0; x < map.width; x++) {
        for (let y = 0; y < map.height; y++) {
          for (const [px, py, w, h] of panes[layer[x][y]] || []) {
            const cx = x * tile + px + w / 2;
            const cy = y * tile + py + h / 2;
            const glow = g.createRadialGradient(cx, cy, 1, cx, cy, tile * 0.6);
            glow.addColorStop(0, GLOW);
            glow.addColorStop(1, "rgba(255, 196, 92, 0)");
            g.fillStyle = glow;
            g.fillRect(cx - tile, cy - tile, tile * 2, tile * 2);
            g.fillStyle = PANE;
            g.fillRect(x * tile + px, y * tile + py, w, h);
          }
        }
      }
    }
    this.windows = canvas;
  }

  /**
   * Lay the light of `hour` over what is drawn: call after the map and people, before the
   * names and words.
   * @param {CanvasRenderingContext2D} ctx in world pixels
   * @param {number} hour 0 to 24
   * @param {{width: number, height: number}} world the map's size in world pixels
   * @param {{x: number, y: number}[]} people where each person's feet are, in world pixels
   */
  draw(ctx, hour, world, people) {
    const light = lightAt(hour);
    this.light = light;
    if (light.tint.every((v) => v === 255)) return;
    ctx.save();
    ctx.globalCompositeOperation = "multiply";
    ctx.fillStyle = `rgb(${light.tint.join(", ")})`;
    ctx.fillRect(0, 0, world.width, world.height);
    if (light.lamps > 0) {
      ctx.globalCompositeOperation = "lighter";
      ctx.globalAlpha = light.lamps;
      if (this.windows) ctx.drawImage(this.windows, 0, 0);
      ctx.globalAlpha = 0.35 * light.lamps;
      for (const { x, y } of people) {  // a lantern's glow at each person's side
        const glow = ctx.createRadialGradient(x, y - 20, 2, x, y - 20, 40);
        glow.addColorStop(0, "rgba(255, 210, 140, 1)");
        glow.addColorStop(1, "rgba(255, 210, 140, 0)");
        ctx.fillStyle = glow;
        ctx.fillRect(x - 40, y - 60, 80, 80);
      }
    }
    ctx.restore();
  }
}
