// @ts-check
// Residents drawn from sprite sheets given as frame data, as AI Town's characters are:
// frames (x, y, w, h of one image) and the animations left, right, up and down.
// A world imported from an AI Town checkout lists them (`characters:sheets`); others have
// none, and the renderer draws the town's own people.

/** @import { CharacterSheet } from "./types.js" */

/**
 * A loaded sheet: each facing's frames, and how long one shows while walking.
 * @typedef {object} LoadedSheet
 * @property {HTMLImageElement} image
 * @property {Record<string, {x: number, y: number, w: number, h: number}[]>} animations
 * @property {number} frameMs
 */

/**
 * The sheet description as stored: AI Town's spritesheet data with `meta.image` its URL.
 * @typedef {object} SheetData
 * @property {{image: string}} meta
 * @property {Record<string, {frame: {x: number, y: number, w: number, h: number}}>} frames
 * @property {Record<string, string[]>} animations
 */

const FACINGS = ["left", "right", "up", "down"];

export class CharacterSheets {
  constructor() {
    /** @type {Map<string, LoadedSheet>} by character (sprite) name */
    this.sheets = new Map();
    /** @type {string} the list last given, so an unchanged one loads nothing */
    this.given = "";
  }

  /**
   * The world's sheets; those of another world are forgotten.
   * @param {CharacterSheet[]} list
   */
  set(list) {
    const given = JSON.stringify(list);
    if (given === this.given) return;
    this.given = given;
    this.sheets = new Map();
    for (const entry of list) this.load(entry, given);
  }

  /**
   * @param {CharacterSheet} entry
   * @param {string} given the list it came in, so a late answer for an old list is dropped
   */
  async load(entry, given) {
    try {
      const url = new URL(entry.sheet, location.href);
      /** @type {SheetData} */
      const data = await (await fetch(url)).json();
      const image = new Image();
      image.src = new URL(data.meta.image, url).href;
      /** @type {Record<string, {x: number, y: number, w: number, h: number}[]>} */
      const animations = {};
      for (const facing of FACINGS) {
        animations[facing] = (data.animations[facing] || []).map((name) => data.frames[name].frame);
      }
      // AI Town advances an animation by `speed` frames per display frame (60 a second).
      const frameMs = 1000 / (60 * Math.max(entry.speed || 0.1, 0.01));
      if (this.given === given) this.sheets.set(entry.character, { image, animations, frameMs });
    } catch (error) {
      console.warn("smalltown: a character's sprite sheet could not be loaded:", entry.sheet, error);
    }
  }

  /**
   * The frame to draw a resident wearing `character` with: the first of its facing's
   * animation standing, each in turn walking; null when there is no such sheet (yet).
   * @param {string} character
   * @param {{dx: number, dy: number}} facing
   * @param {boolean} moving
   * @param {number} now performance.now()
   * @returns {{image: HTMLImageElement, x: number, y: number, w: number, h: number,
   *   animation: string, index: number} | null}
   */
  frame(character, facing, moving, now) {
    const sheet = this.sheets.get(character);
    if (!sheet || !sheet.image.complete || !sheet.image.naturalWidth) return null;
    const animation = Math.abs(facing.dx) > Math.abs(facing.dy)
      ? (facing.dx < 0 ? "left" : "right") : (facing.dy < 0 ? "up" : "down");
    const frames = sheet.animations[animation] || [];
    if (!frames.length) return null;
    const index = moving ? Math.floor(now / sheet.frameMs) % frames.length : 0;
    return { image: sheet.image, ...frames[index], animation, index };
  }
}
