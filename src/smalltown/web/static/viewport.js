// @ts-check
// What part of a larger world the page follows: the cells of a coarse grid around the
// view, or, zoomed out to show more than 64 x 64 tiles, the overview (everyone's place,
// fetched every few seconds).
// A small pan drops no cell; a larger one adds or drops a few at the edge.

/** @import { Point } from "./types.js" */

// A world of at most this many players is followed player by player, as small as it gets;
// a larger one by the cells of the map in view.
export const FEW_PLAYERS = 50;
export const CELL = 16;  // tiles a side of one followed rectangle (`viewport:region`)
// Only the cells the view covers are followed: a walker bound for the view is in them from
// the moment it sets off, so nobody pops up mid-screen.
const AHEAD = 0;
const KEEP = 8;  // tiles beyond the view a followed cell is kept, so small pans to and fro are free
export const MAX_VIEW_TILES = 64 * 64;  // a view larger than this: the overview instead
export const OVERVIEW_MS = 2000;  // how often the overview is fetched

/**
 * A rectangle of tiles.
 * @typedef {{x: number, y: number, width: number, height: number}} Tiles
 */

/**
 * The cells (as "column,row") that cover a rectangle grown by `margin` tiles on each side,
 * within a map of `columns` x `rows` tiles.
 * @param {Tiles} view
 * @param {number} margin
 * @param {number} columns
 * @param {number} rows
 * @returns {string[]}
 */
export function cellsAround(view, margin, columns, rows) {
  const x0 = Math.max(0, Math.floor((view.x - margin) / CELL));
  const y0 = Math.max(0, Math.floor((view.y - margin) / CELL));
  const x1 = Math.min(Math.ceil(columns / CELL), Math.ceil((view.x + view.width + margin) / CELL));
  const y1 = Math.min(Math.ceil(rows / CELL), Math.ceil((view.y + view.height + margin) / CELL));
  const out = [];
  for (let cx = x0; cx < x1; cx++) for (let cy = y0; cy < y1; cy++) out.push(`${cx},${cy}`);
  return out;
}

/**
 * A cell's rectangle, as `viewport:region` takes it.
 * @param {string} key "column,row"
 * @returns {Tiles}
 */
export function cellRect(key) {
  const [cx, cy] = key.split(",").map(Number);
  return { x: cx * CELL, y: cy * CELL, width: CELL, height: CELL };
}

/**
 * Which cells to follow for this view, and which to let go.
 * @param {Tiles} view
 * @param {number} columns
 * @param {number} rows
 * @returns {{overview: boolean, wanted: string[], kept: Set<string>}}
 */
export function plan(view, columns, rows) {
  const overview = view.width * view.height > MAX_VIEW_TILES;
  return { overview, wanted: cellsAround(view, AHEAD, columns, rows),
           kept: new Set(cellsAround(view, KEEP, columns, rows)) };
}

/**
 * Everyone's place from the last two overviews: the page glides from the one to the other
 * over the time between fetches, so dots move rather than jump.
 */
export class Overview {
  constructor() {
    /** @type {string[]} */
    this.ids = [];
    /** @type {Map<string, Point>} where each was drawn when the last overview came */
    this.from = new Map();
    /** @type {Map<string, Point>} */
    this.to = new Map();
    this.received = 0;
  }

  /** @param {{ids: string[], xy: number[]}} value `viewport:overview`'s */
  take(value) {
    const now = performance.now();
    const from = new Map();
    for (const id of value.ids) {
      const at = this.at(id, now);
      if (at) from.set(id, at);
    }
    this.from = from;
    this.to = new Map(value.ids.map((id, i) => [id, { x: value.xy[2 * i], y: value.xy[2 * i + 1] }]));
    this.ids = value.ids;
    this.received = now;
  }

  /**
   * Where someone is drawn at `now` (performance.now()), in tiles.
   * @param {string} id
   * @param {number} now
   * @returns {Point | null}
   */
  at(id, now) {
    const to = this.to.get(id);
    if (!to) return null;
    const from = this.from.get(id) || to;
    const f = Math.min(1, Math.max(0, (now - this.received) / OVERVIEW_MS));
    return { x: from.x + (to.x - from.x) * f, y: from.y + (to.y - from.y) * f };
  }
}
