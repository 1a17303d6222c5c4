// @ts-check
// The map's tiles, painted once off-screen, and its animated sprites on top, frame by frame.
// A frame then costs one image copy, not thousands of tiles.
import { context2d } from "./dom.js";

/** @import { AnimatedSprite, WorldMap } from "./types.js" */

/**
 * One frame of an animation: the image and the rectangle of it to draw.
 * @typedef {{image: HTMLImageElement, x: number, y: number, w: number, h: number}} Frame
 */

/**
 * A sprite-sheet description, as AI Town's sprites have them.
 * @typedef {object} SpriteSheet
 * @property {{image: string}} meta the image, relative to the description
 * @property {Record<string, {frame: {x: number, y: number, w: number, h: number}}>} frames
 * @property {Record<string, string[]>} animations each animation's frame names, in order
 */

const FRAME_MS = 120;
const WORLD_TILE = 32;  // a tile in world pixels (renderer.js's TILE), whatever the tile set's

export class MapPainter {
  constructor() {
    /** @type {Map<string, HTMLImageElement>} */
    this.images = new Map();
    /** @type {WorldMap | null} */
    this.map = null;
    /** @type {HTMLCanvasElement | null} the painted tiles, or null until the tile set has loaded */
    this.layers = null;
    /** @type {(AnimatedSprite & {frames: Frame[]})[]} */
    this.sprites = [];
    this.framesShown = 0;
  }

  /**
   * The image at this address, loaded once.
   * @param {string} url
   * @returns {HTMLImageElement}
   */
  image(url) {
    let img = this.images.get(url);
    if (!img) {
      img = new Image();
      img.src = url;
      this.images.set(url, img);
    }
    return img;
  }

  /** @param {WorldMap} map */
  setMap(map) {
    if (this.map && JSON.stringify(this.map) === JSON.stringify(map)) return;
    this.map = map;
    this.layers = null;
    this.sprites = [];
    const sheet = this.image(map.tileSetUrl);
    if (sheet.complete && sheet.naturalWidth) this.paint(sheet, map);
    else sheet.addEventListener("load", () => this.map === map && this.paint(sheet, map),
                                { once: true });
    for (const sprite of map.animatedSprites || []) this.loadSprite(sprite, map);
  }

  /**
   * @param {HTMLImageElement} sheet the tile set
   * @param {WorldMap} map
   */
  paint(sheet, map) {
    const tile = map.tileDim;
    const out = WORLD_TILE;
    const columns = Math.max(1, Math.floor(map.tileSetDimX / tile));
    const layers = document.createElement("canvas");
    layers.width = map.width * out;
    layers.height = map.height * out;
    const g = context2d(layers);
    g.imageSmoothingEnabled = false;
    for (const layer of [...map.bgTiles, ...map.objectTiles]) {
      for (let x = 0; x < map.width; x++) {
        for (let y = 0; y < map.height; y++) {
          const index = layer[x][y];
          if (index < 0) continue;
          g.drawImage(sheet, (index % columns) * tile, Math.floor(index / columns) * tile,
                      tile, tile, x * out, y * out, out, out);
        }
      }
    }
    this.layers = layers;
  }

  /**
   * AI Town's sprite entries name a sprite-sheet description (frames and animations) and
   * an animation in it; the sheet's image sits next to the description.
   * @param {AnimatedSprite} sprite
   * @param {WorldMap} map
   */
  async loadSprite(sprite, map) {
    try {
      const url = new URL(sprite.sheet, new URL("/assets/", location.href));
      /** @type {SpriteSheet} */
      const sheet = await (await fetch(url)).json();
      const image = this.image(new URL(sheet.meta.image, url).href);
      const names = sheet.animations[sprite.animation] || Object.keys(sheet.frames);
      const frames = names.map((name) => ({ image, ...sheet.frames[name].frame }));
      const k = WORLD_TILE / map.tileDim;  // sprites are placed in the tile set's pixels
      if (this.map === map) {
        this.sprites.push({ ...sprite, x: sprite.x * k, y: sprite.y * k, w: sprite.w * k,
                            h: sprite.h * k, frames });
      }
    } catch (error) {
      console.warn("smalltown: an animated sprite could not be loaded:", sprite.sheet, error);
    }
  }

  /**
   * @param {CanvasRenderingContext2D} ctx already in world pixels
   * @param {number} now performance.now(), for the animation frame
   */
  draw(ctx, now) {
    if (this.layers) ctx.drawImage(this.layers, 0, 0);
    for (const sprite of this.sprites) {
      const frame = sprite.frames[Math.floor(now / FRAME_MS) % sprite.frames.length];
      if (!frame.image.complete) continue;
      ctx.drawImage(frame.image, frame.x, frame.y, frame.w, frame.h,
                    sprite.x, sprite.y, sprite.w, sprite.h);
      this.framesShown += 1;
    }
  }
}
