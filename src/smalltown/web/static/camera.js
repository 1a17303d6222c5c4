// @ts-check
// Pan and zoom over the map: drag to pan, the wheel (or + and -) to zoom about a point.
// The canvas keeps one backing pixel per device pixel and draws with nearest-neighbour
// scaling, so tiles stay crisp at any zoom.

const MIN_SCALE = 0.25;  // for maps far larger than the canvas
const MAX_SCALE = 6;
const DRAG_PIXELS = 5;  // a press that moves less than this is a click

/** @import { Point } from "./types.js" */

/**
 * A press on the canvas: where it started, where the camera was, and whether it drags.
 * @typedef {{x: number, y: number, camX: number, camY: number, dragging: boolean}} Press
 */

export class Camera {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {(point: Point) => void} onClick told the world pixel of a click (not a drag)
   */
  constructor(canvas, onClick) {
    this.canvas = canvas;
    this.onClick = onClick;
    this.scale = 1;
    this.x = 0;  // the world pixel at the canvas's top-left corner
    this.y = 0;
    this.world = { width: 0, height: 0 };
    this.fitted = false;
    this.asFitted = false;  // fitted, and neither zoomed nor panned since: a resize refits
    /** @type {Press | null} */
    this.press = null;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", () => { this.press = null; });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const at = this.local(e.clientX, e.clientY);
      this.zoomAt(Math.exp(-e.deltaY * 0.0015), at.x, at.y);
    }, { passive: false });
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(this.canvas.clientHeight * ratio));
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      if (!this.fitted || this.asFitted) {
        this.fit();
      } else if (this.world.width) {  // as zoomed and panned, but never showing bars
        this.zoom(1);
      }
    }
  }

  /** @param {number} width @param {number} height the map's size in world pixels */
  setWorld(width, height) {
    const first = !this.world.width;
    this.world = { width, height };
    if (first) this.fit();
  }

  // The map filling the canvas, centred: no bars beside or above it (what does not fit is
  // reached by panning).
  fit() {
    const { width, height } = this.world;
    if (!width || !this.canvas.width) return;
    const view = this.viewSize();
    this.scale = this.coverScale();
    this.x = (width - view.width / this.scale) / 2;
    this.y = (height - view.height / this.scale) / 2;
    this.fitted = true;
    this.asFitted = true;
  }

  /** @returns {number} the least zoom at which the map covers the whole canvas */
  coverScale() {
    const { width, height } = this.world;
    if (!width || !height) return MIN_SCALE;
    const view = this.viewSize();
    return Math.max(view.width / width, view.height / height);
  }

  viewSize() {  // in CSS pixels
    const ratio = window.devicePixelRatio || 1;
    return { width: this.canvas.width / ratio, height: this.canvas.height / ratio };
  }

  /**
   * The part of the map in view, in tiles of `tile` world pixels.
   * @param {number} tile
   * @returns {{x: number, y: number, width: number, height: number}}
   */
  visibleTiles(tile) {
    const view = this.viewSize();
    return { x: this.x / tile, y: this.y / tile, width: view.width / this.scale / tile,
             height: view.height / this.scale / tile };
  }

  /** @param {number} clientX @param {number} clientY @returns {Point} in CSS pixels */
  local(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: clientX - rect.left, y: clientY - rect.top };
  }

  /** @param {number} clientX @param {number} clientY @returns {Point} */
  toWorld(clientX, clientY) {
    const at = this.local(clientX, clientY);
    return { x: this.x + at.x / this.scale, y: this.y + at.y / this.scale };
  }

  /** @param {number} worldX @param {number} worldY @returns {Point} */
  toClient(worldX, worldY) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + (worldX - this.x) * this.scale,
             y: rect.top + (worldY - this.y) * this.scale };
  }

  /** @param {number} factor @param {number} localX @param {number} localY */
  zoomAt(factor, localX, localY) {
    const least = Math.max(MIN_SCALE, Math.min(MAX_SCALE, this.coverScale()));
    const scale = Math.min(MAX_SCALE, Math.max(least, this.scale * factor));
    const wx = this.x + localX / this.scale;
    const wy = this.y + localY / this.scale;
    this.scale = scale;
    this.x = wx - localX / scale;
    this.y = wy - localY / scale;
    this.asFitted = false;
    this.clamp();
  }

  /** @param {number} factor */
  zoom(factor) {
    const view = this.viewSize();
    this.zoomAt(factor, view.width / 2, view.height / 2);
  }

  /** @param {number} worldX @param {number} worldY */
  centerOn(worldX, worldY) {
    const view = this.viewSize();
    this.x = worldX - view.width / this.scale / 2;
    this.y = worldY - view.height / this.scale / 2;
    this.clamp();
  }

  // Pan no further than the map's edges (centred where the view is the wider).
  clamp() {
    const view = this.viewSize();
    const w = view.width / this.scale;
    const h = view.height / this.scale;
    const { width, height } = this.world;
    this.x = w >= width ? (width - w) / 2 : Math.min(width - w, Math.max(0, this.x));
    this.y = h >= height ? (height - h) / 2 : Math.min(height - h, Math.max(0, this.y));
  }

  /**
   * World pixels to device pixels.
   * @param {CanvasRenderingContext2D} ctx
   */
  apply(ctx) {
    const s = this.scale * (window.devicePixelRatio || 1);
    ctx.setTransform(s, 0, 0, s, -this.x * s, -this.y * s);
  }

  /** @param {PointerEvent} event */
  down(event) {
    this.press = { x: event.clientX, y: event.clientY, camX: this.x, camY: this.y, dragging: false };
    this.canvas.setPointerCapture(event.pointerId);
  }

  /** @param {PointerEvent} event */
  move(event) {
    const press = this.press;
    if (!press) return;
    const dx = event.clientX - press.x;
    const dy = event.clientY - press.y;
    if (!press.dragging && Math.hypot(dx, dy) < DRAG_PIXELS) return;
    press.dragging = true;
    this.asFitted = false;
    this.canvas.style.cursor = "grabbing";
    this.x = press.camX - dx / this.scale;
    this.y = press.camY - dy / this.scale;
    this.clamp();
  }

  /** @param {PointerEvent} event */
  up(event) {
    const press = this.press;
    this.press = null;
    this.canvas.style.cursor = "";
    if (press && !press.dragging) this.onClick(this.toWorld(event.clientX, event.clientY));
  }
}
