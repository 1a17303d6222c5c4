// @ts-check
// The canvas: each frame's map, people, names and words; and who is under a click.
import { context2d } from "./dom.js";
import { position } from "./motion.js";
import { describe } from "./state.js";

/**
 * @import { Camera } from "./camera.js"
 * @import { GameClock, Placed } from "./motion.js"
 * @import { MapPainter } from "./painter.js"
 * @import { PageState } from "./state.js"
 * @import { Point, PlayerView, WorldMap } from "./types.js"
 */

export const TILE = 32;  // pixels a tile, in world pixels
const SHOW_WORDS_MS = 8000;

export class Renderer {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {PageState} state read each frame; `drawnPlayers` written
   * @param {Camera} camera
   * @param {MapPainter} painter
   * @param {GameClock} clock
   */
  constructor(canvas, state, camera, painter, clock) {
    this.canvas = canvas;
    this.ctx = context2d(canvas);
    this.state = state;
    this.camera = camera;
    this.painter = painter;
    this.clock = clock;
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
    /** @type {{player: PlayerView, distance: number} | null} */
    let best = null;
    for (const player of world.players) {
      const at = this.place(player);
      const distance = Math.hypot(at.x + 0.5 - x, at.y + 0.5 - y);
      if (distance < 0.8 && (!best || distance < best.distance)) best = { player, distance };
    }
    return best ? best.player : null;
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
    const people = this.painter.image("/assets/characters.png");
    const placed = world.players.map((player) => ({ player, at: this.place(player) }))
      .sort((a, b) => a.at.y - b.at.y);
    if (state.following && state.selected) {
      const followed = placed.find((p) => p.player.id === state.selected);
      if (followed) camera.centerOn((followed.at.x + 0.5) * TILE, (followed.at.y + 0.5) * TILE);
    }
    for (const { player, at } of placed) {
      const desc = describe(state, player.id);
      const column = desc ? (parseInt(String(desc.character).replace(/\D/g, ""), 10) || 1) - 1 : 0;
      const facing = at.facing || { dx: 0, dy: 1 };
      const row = facing.dy > 0 ? 0 : facing.dx < 0 ? 1 : facing.dx > 0 ? 2 : 3;
      const frame = at.moving ? Math.floor(now / 150) % 3 : 1;
      if (player.id === state.selected) {
        ctx.strokeStyle = "#ffe27a";
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.ellipse((at.x + 0.5) * TILE, (at.y + 0.95) * TILE, 12, 5, 0, 0, Math.PI * 2);
        ctx.stroke();
      }
      if (people.complete && people.naturalWidth) {
        ctx.drawImage(people, ((column % 5) * 3 + frame) * TILE, row * TILE, TILE, TILE,
                      at.x * TILE, at.y * TILE, TILE, TILE);
      }
    }
    // Words and names at a readable size whatever the zoom.
    ctx.setTransform(window.devicePixelRatio || 1, 0, 0, window.devicePixelRatio || 1, 0, 0);
    const rect = canvas.getBoundingClientRect();
    const typing = new Set(world.conversations
      .flatMap((c) => (c.isTyping ? [c.isTyping.playerId] : [])));
    const gameTime = this.clock.now();
    for (const { player, at } of placed) {
      const screen = camera.toClient((at.x + 0.5) * TILE, at.y * TILE);
      const sx = screen.x - rect.left;
      const sy = screen.y - rect.top;
      const desc = describe(state, player.id);
      const emoji = player.activity && player.activity.until > gameTime
        ? ` ${player.activity.emoji || ""}` : "";
      label(ctx, (desc ? desc.name : player.id) + emoji, sx, sy - 2, player.id === state.selected);
      const said = state.said.get(player.id);
      if (typing.has(player.id)) bubble(ctx, "…", sx, sy - 16);
      else if (said && now - said.at < SHOW_WORDS_MS) bubble(ctx, said.text, sx, sy - 16);
    }
    state.drawnPlayers = placed.length;
  }
}

/**
 * A name, outlined so it reads on any tile.
 * @param {CanvasRenderingContext2D} ctx in CSS pixels
 * @param {string} text
 * @param {number} x
 * @param {number} y
 * @param {boolean} highlighted the selected player's, in yellow
 */
function label(ctx, text, x, y, highlighted) {
  ctx.font = "bold 11px system-ui";
  ctx.textAlign = "center";
  ctx.lineWidth = 3;
  ctx.strokeStyle = "rgba(0,0,0,0.7)";
  ctx.strokeText(text, x, y);
  ctx.fillStyle = highlighted ? "#ffe27a" : "#fff";
  ctx.fillText(text, x, y);
}

/**
 * A speech bubble above someone (long words cut to 60 characters).
 * @param {CanvasRenderingContext2D} ctx in CSS pixels
 * @param {string} text
 * @param {number} x
 * @param {number} y
 */
function bubble(ctx, text, x, y) {
  const shown = text.length > 60 ? `${text.slice(0, 57)}…` : text;
  ctx.font = "12px system-ui";
  ctx.textAlign = "center";
  const width = ctx.measureText(shown).width + 12;
  ctx.fillStyle = "rgba(255,255,255,0.94)";
  ctx.beginPath();
  ctx.roundRect(x - width / 2, y - 17, width, 19, 6);
  ctx.fill();
  ctx.fillStyle = "#222";
  ctx.fillText(shown, x, y - 3);
}
