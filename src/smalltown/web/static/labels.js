// @ts-check
// Where names and speech bubbles go each frame, so none covers another or the controls.
// Each is tried just above its person, then stacked higher or beside; a bubble moved off
// its person keeps a leader line to them, and one with no room left shrinks to "…".

/**
 * A rectangle in CSS pixels, from the canvas's top-left corner.
 * @typedef {{x: number, y: number, w: number, h: number}} Rect
 */

/**
 * Something to place: a name or words, and the point above the head it belongs to.
 * @typedef {object} Wanted
 * @property {"name" | "bubble"} kind
 * @property {string} playerId
 * @property {string} text
 * @property {number} ax the head's point, x
 * @property {number} ay the head's point, y
 * @property {number} below the feet, y: a name may go there when above is taken
 * @property {boolean} highlighted the selected person's
 */

/**
 * Where something was drawn, as `window.smalltown.debug.labels` lists them.
 * @typedef {Rect & {kind: "name" | "bubble", playerId: string, text: string,
 *   ax: number, ay: number, leader: boolean, highlighted: boolean}} Placed
 */

export const NAME_FONT = "bold 11px system-ui";
export const BUBBLE_FONT = "12px system-ui";
const NAME_H = 14;
const BUBBLE_H = 19;
const GAP = 2;
const MAX_WORDS = 60;  // characters of a bubble; longer words are cut

/** @param {Rect} a @param {Rect} b */
export function intersects(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Places of a rectangle of this size near a point, best first: on it, then stacked above,
 * then to either side; names also below the feet.
 * @param {number} w @param {number} h
 * @param {Wanted} item
 * @returns {Rect[]}
 */
function candidates(w, h, item) {
  const out = [];
  const bottom = item.kind === "bubble" ? item.ay - NAME_H - GAP : item.ay;
  for (let step = 0; step < 7; step++) {
    for (const side of [0, -0.55, 0.55, -1.1, 1.1]) {
      out.push({ x: item.ax - w / 2 + side * (w + GAP), y: bottom - h - step * (h + GAP), w, h });
    }
    if (item.kind === "name" && step < 3) {
      out.push({ x: item.ax - w / 2, y: item.below + GAP + step * (h + GAP), w, h });
    }
  }
  return out;
}

/**
 * Lay out this frame's names and bubbles, in order of importance (first placed wins).
 * @param {CanvasRenderingContext2D} ctx for measuring text
 * @param {Wanted[]} wanted
 * @param {{width: number, height: number}} view the canvas, in CSS pixels
 * @param {Rect[]} obstacles the controls over the canvas
 * @returns {Placed[]}
 */
export function layout(ctx, wanted, view, obstacles) {
  /** @type {Placed[]} */
  const placed = [];
  const free = (/** @type {Rect} */ r) => r.x >= 0 && r.y >= 0 && r.x + r.w <= view.width
    && r.y + r.h <= view.height && !obstacles.some((o) => intersects(o, r))
    && !placed.some((p) => intersects(p, r));
  for (const item of wanted) {
    const texts = item.kind === "bubble" && item.text !== "…" ? [shorten(item.text), "…"]
      : [item.text];
    for (const text of texts) {
      ctx.font = item.kind === "name" ? NAME_FONT : BUBBLE_FONT;
      const w = Math.ceil(ctx.measureText(text).width) + (item.kind === "name" ? 6 : 12);
      const h = item.kind === "name" ? NAME_H : BUBBLE_H;
      const spot = candidates(w, h, item).find(free);
      if (!spot) continue;
      const home = candidates(w, h, item)[0];
      placed.push({ ...spot, kind: item.kind, playerId: item.playerId, text, ax: item.ax,
                    ay: item.ay, highlighted: item.highlighted,
                    leader: Math.hypot(spot.x - home.x, spot.y - home.y) > 4 });
      break;
    }
  }
  return placed;
}

/** @param {string} text */
function shorten(text) {
  return text.length > MAX_WORDS ? `${text.slice(0, MAX_WORDS - 3)}…` : text;
}

/**
 * Draw what `layout` placed: bubbles with a line to their speaker, then names.
 * @param {CanvasRenderingContext2D} ctx in CSS pixels
 * @param {Placed[]} placed
 */
export function drawLabels(ctx, placed) {
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const p of placed) {
    if (p.kind !== "bubble") continue;
    const fromX = Math.min(p.x + p.w - 6, Math.max(p.x + 6, p.ax));
    const fromY = p.y + p.h;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.lineWidth = p.leader ? 1.5 : 3;
    ctx.beginPath();
    ctx.moveTo(fromX, fromY - 1);
    ctx.lineTo(p.ax, p.ay - 1);
    ctx.stroke();
    ctx.fillStyle = "rgba(255,255,255,0.95)";
    ctx.beginPath();
    ctx.roundRect(p.x, p.y, p.w, p.h, 6);
    ctx.fill();
    ctx.font = BUBBLE_FONT;
    ctx.fillStyle = "#222";
    ctx.fillText(p.text, p.x + p.w / 2, p.y + p.h / 2 + 1);
  }
  for (const p of placed) {
    if (p.kind !== "name") continue;
    if (p.leader) {  // a name moved off its person points back at them
      ctx.strokeStyle = "rgba(0,0,0,0.55)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(Math.min(p.x + p.w, Math.max(p.x, p.ax)), p.y + (p.ay > p.y ? p.h : 0));
      ctx.lineTo(p.ax, p.ay);
      ctx.stroke();
    }
    ctx.font = NAME_FONT;
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(0,0,0,0.75)";
    ctx.strokeText(p.text, p.x + p.w / 2, p.y + p.h / 2 + 1);
    ctx.fillStyle = p.highlighted ? "#ffe27a" : "#fff";
    ctx.fillText(p.text, p.x + p.w / 2, p.y + p.h / 2 + 1);
  }
  ctx.textBaseline = "alphabetic";
}
