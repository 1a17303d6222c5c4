// @ts-check
// The canvas: each frame's map, people, names and words; and who is under a click.
import { Daylight, hourOf } from "./daylight.js";
import { context2d } from "./dom.js";
import { drawLabels, layout } from "./labels.js";
import { position } from "./motion.js";
import { CharacterSheets } from "./sheets.js";
import { describe } from "./state.js";

/**
 * @import { Camera } from "./camera.js"
 * @import { Light } from "./daylight.js"
 * @import { Placed as PlacedLabel, Rect, Wanted } from "./labels.js"
 * @import { GameClock, Placed } from "./motion.js"
 * @import { MapPainter } from "./painter.js"
 * @import { PageState } from "./state.js"
 * @import { Point, PlayerView, WorldMap } from "./types.js"
 * @import { Overview } from "./viewport.js"
 */

export const TILE = 32;  // pixels a tile, in world pixels
export const SPRITE = 2;  // a person is drawn this many tiles tall (and wide), feet on the tile
const SHOW_WORDS_MS = 8000;
const STEP_MS = 150;  // a walking frame
const IDLE_MS = 700;  // a breath, standing
const DOT_PIXELS = 5;  // zoomed out, a person is a dot at least this wide on screen

export class Renderer {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {PageState} state read each frame; `drawnPlayers` written
   * @param {Camera} camera
   * @param {MapPainter} painter
   * @param {GameClock} clock
   * @param {Element[]} controls what lies over the canvas, which no label may cover
   */
  constructor(canvas, state, camera, painter, clock, controls) {
    this.canvas = canvas;
    this.controls = controls;
    this.daylight = new Daylight();  // the hour's light over the town, from the game clock
    /** What the last frame drew, for tests: labels and bubbles, the controls, and how tall
     *  a person is, in CSS pixels from the canvas's corner; and the light it was drawn in.
     * @type {{labels: PlacedLabel[], controls: Rect[], spriteHeight: number, light: Light}} */
    this.debug = { labels: [], controls: [], spriteHeight: 0, light: this.daylight.light };
    this.ctx = context2d(canvas);
    this.state = state;
    this.camera = camera;
    this.painter = painter;
    this.clock = clock;
    /** the sprite sheets of an imported world's residents (none: the town's own people) */
    this.sheets = new CharacterSheets();
    /** For tests: each resident drawn from a sheet last frame, and the frame it showed.
     * @type {{playerId: string, animation: string, index: number}[]} */
    this.sheetFrames = [];
  }

  /** Draw every frame from now on. */
  start() {
    requestAnimationFrame(() => this.draw());
  }

  /**
   * A new map: its tiles painted, and the camera told its size.
   * @param {WorldMap} map
   */
  setMap(map) {
    this.painter.setMap(map);
    this.daylight.setMap(map);
    this.camera.setWorld(map.width * TILE, map.height * TILE);
  }

  /**
   * Where a player is drawn now, in tiles.
   * @param {PlayerView} player
   * @returns {Placed}
   */
  place(player) {
    return position(player, this.clock.now());
  }

  /**
   * The player drawn nearest a world pixel, if one is close enough to be clicked.
   * @param {Point} point
   * @returns {PlayerView | null}
   */
  playerAt(point) {
    const world = this.state.world;
    if (!world) return null;
    const x = point.x / TILE;
    const y = point.y / TILE;
    const overview = this.state.overview;
    if (overview) {  // a dot: near enough on screen, however far out the zoom
      const reach = Math.max(0.9, 8 / this.camera.scale / TILE);
      const now = performance.now();
      let nearest = null;
      let least = reach;
      for (const id of overview.ids) {
        const at = overview.at(id, now);
        const distance = at ? Math.hypot(at.x + 0.5 - x, at.y + 0.5 - y) : Infinity;
        if (distance < least) [nearest, least] = [id, distance];
      }
      return nearest ? /** @type {PlayerView} */ ({ id: nearest, position: { x, y },
                                                     facing: { dx: 0, dy: 1 } }) : null;
    }
    /** @type {{player: PlayerView, distance: number} | null} */
    let best = null;
    for (const player of world.players) {
      const at = this.place(player);
      const distance = Math.hypot(at.x + 0.5 - x, at.y + 0.3 - y);  // the body, above the feet
      if (distance < 0.9 && (!best || distance < best.distance)) best = { player, distance };
    }
    return best ? best.player : null;
  }

  /**
   * Zoomed out: everyone as a dot (people playing in gold, residents in white, the
   * selected one ringed), no names; what is off screen is not drawn.
   * @param {CanvasRenderingContext2D} ctx with the camera applied
   * @param {Overview} overview
   * @param {number} now performance.now()
   * @returns {number} how many were drawn
   */
  drawOverview(ctx, overview, now) {
    const { camera, state } = this;
    const view = camera.visibleTiles(TILE);
    const size = Math.max(0.6, DOT_PIXELS / camera.scale / TILE);
    const humans = new Set((state.roster ? state.roster.players : [])
      .flatMap((p) => (p.human ? [p.id] : [])));
    let drawn = 0;
    for (const id of overview.ids) {
      const at = overview.at(id, now);
      if (!at || at.x + 1 < view.x || at.y + 1 < view.y || at.x > view.x + view.width
          || at.y > view.y + view.height) continue;
      const cx = (at.x + 0.5) * TILE;
      const cy = (at.y + 0.5) * TILE;
      const half = (size * TILE) / 2;
      ctx.fillStyle = humans.has(id) ? "#ffd54a" : "#f4f1e8";
      ctx.fillRect(cx - half, cy - half, half * 2, half * 2);
      if (id === state.selected) {
        ctx.strokeStyle = "#ffe27a";
        ctx.lineWidth = half;
        ctx.strokeRect(cx - half * 2.5, cy - half * 2.5, half * 5, half * 5);
      }
      drawn += 1;
    }
    return drawn;
  }

  draw() {
    requestAnimationFrame(() => this.draw());
    const { canvas, ctx, camera, state } = this;
    camera.resize();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#10151d";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const world = state.world;
    if (!state.map || !world) return;
    const now = performance.now();
    camera.apply(ctx);
    ctx.imageSmoothingEnabled = false;
    this.painter.draw(ctx, now);
    if (state.overview) {
      state.drawnPlayers = this.drawOverview(ctx, state.overview, now);
      this.debug.labels = [];
      return;
    }
    const people = this.painter.image("/assets/characters.png");
    const placed = world.players.map((player) => ({ player, at: this.place(player) }))
      .sort((a, b) => a.at.y - b.at.y);
    if (state.following && state.selected) {
      const followed = placed.find((p) => p.player.id === state.selected);
      if (followed) camera.centerOn((followed.at.x + 0.5) * TILE, (followed.at.y + 0.5) * TILE);
    }
    const size = SPRITE * TILE;
    /** @type {Map<string, number>} how tall each person is drawn, in world pixels */
    const heights = new Map();
    this.sheetFrames = [];
    for (const { player, at } of placed) {
      const desc = describe(state, player.id);
      const column = desc ? (parseInt(String(desc.character).replace(/\D/g, ""), 10) || 1) - 1 : 0;
      const facing = at.facing || { dx: 0, dy: 1 };
      const row = facing.dy > 0 ? 0 : facing.dx < 0 ? 1 : facing.dx > 0 ? 2 : 3;
      const frame = at.moving ? [0, 1, 2, 1][Math.floor(now / STEP_MS) % 4] : 1;
      // Standing, a person breathes: a pixel up and down, each at their own pace.
      const breath = at.moving ? 0 : Math.floor((now + column * 237) / IDLE_MS) % 2;
      const feetX = (at.x + 0.5) * TILE;
      const feetY = (at.y + 1) * TILE;
      if (player.id === state.selected) {
        ctx.strokeStyle = "#ffe27a";
        ctx.lineWidth = 3;
        ctx.beginPath();
        ctx.ellipse(feetX, feetY - 3, 18, 7, 0, 0, Math.PI * 2);
        ctx.stroke();
      }
      const sheet = desc ? this.sheets.frame(desc.character, facing, Boolean(at.moving), now) : null;
      if (sheet) {  // an imported resident, drawn at its sheet's size as AI Town draws it
        ctx.drawImage(sheet.image, sheet.x, sheet.y, sheet.w, sheet.h,
                      feetX - sheet.w / 2, feetY - sheet.h, sheet.w, sheet.h);
        heights.set(player.id, sheet.h);
        this.sheetFrames.push({ playerId: player.id, animation: sheet.animation,
                                index: sheet.index });
      } else if (people.complete && people.naturalWidth) {
        ctx.drawImage(people, (column * 3 + frame) * TILE, row * TILE, TILE, TILE,
                      feetX - size / 2, feetY - size + breath * SPRITE, size, size - breath * SPRITE);
      }
    }
    const feet = placed.map(({ at }) => ({ x: (at.x + 0.5) * TILE, y: (at.y + 1) * TILE }));
    this.daylight.draw(ctx, hourOf(this.clock.now()), camera.world, feet);
    // Words and names at a readable size whatever the zoom, laid out so none covers another.
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const rect = canvas.getBoundingClientRect();
    const typing = new Set(world.conversations
      .flatMap((c) => (c.isTyping ? [c.isTyping.playerId] : [])));
    const gameTime = this.clock.now();
    /** @type {(Wanted & {order: number})[]} */
    const wanted = [];
    for (const { player, at } of placed) {
      const tall = heights.get(player.id) || size;
      const head = camera.toClient((at.x + 0.5) * TILE, (at.y + 1) * TILE - tall + 4);
      const feet = camera.toClient((at.x + 0.5) * TILE, (at.y + 1) * TILE);
      const base = { playerId: player.id, ax: head.x - rect.left, ay: head.y - rect.top,
                     below: feet.y - rect.top, highlighted: player.id === state.selected };
      const desc = describe(state, player.id);
      const emoji = player.activity && player.activity.until > gameTime
        ? ` ${player.activity.emoji || ""}` : "";
      const said = state.said.get(player.id);
      const words = typing.has(player.id) ? "…"
        : said && now - said.at < SHOW_WORDS_MS ? said.text : null;
      // The selected person first, then whoever spoke last, then everyone else.
      const rank = base.highlighted ? 2 : words !== null ? 1 : 0;
      const recency = said ? said.at : 0;
      wanted.push({ ...base, kind: "name", text: (desc ? desc.name : player.id) + emoji,
                    order: rank * 1e13 + recency + 1 });
      if (words !== null) {
        wanted.push({ ...base, kind: "bubble", text: words, order: rank * 1e13 + recency });
      }
    }
    wanted.sort((a, b) => b.order - a.order);
    const controls = this.controls.map((element) => {
      const r = element.getBoundingClientRect();
      return { x: r.left - rect.left - 4, y: r.top - rect.top - 4, w: r.width + 8,
               h: r.height + 8 };
    });
    const labels = layout(ctx, wanted, { width: rect.width, height: rect.height }, controls);
    drawLabels(ctx, labels);
    Object.assign(this.debug, { labels, controls, spriteHeight: size * camera.scale,
                                light: this.daylight.light });
    state.drawnPlayers = placed.length;
  }
}
