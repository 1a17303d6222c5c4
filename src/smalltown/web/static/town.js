// @ts-check
// The page's entry: makes the state, feed, renderer and panels, and wires them together.
// What the feed hears goes to the parts that show it; clicks and keys to what they do.
import { renderBanners, renderMinds, showError } from "./banners.js";
import { Camera } from "./camera.js";
import { renderDetails } from "./details.js";
import { byId } from "./dom.js";
import { TownFeed } from "./feed.js";
import { Header } from "./header.js";
import { GameClock } from "./motion.js";
import { MapPainter } from "./painter.js";
import { Renderer, TILE } from "./renderer.js";
import { createState } from "./state.js";
import { TalkPanel } from "./talk.js";

/**
 * @import { Topic } from "./feed.js"
 * @import { Point } from "./types.js"
 */

const state = createState();
const clock = new GameClock();
const feed = new TownFeed(state, clock, { changed, failed: showError });
const canvas = byId("map", HTMLCanvasElement);
const camera = new Camera(canvas, onMapClick);
const renderer = new Renderer(canvas, state, camera, new MapPainter(), clock,
                              [byId("zoom", HTMLElement)]);
const header = new Header(state, feed);
const talk = new TalkPanel(state, feed);

/**
 * Redraw what shows the part of the state that changed.
 * @param {Topic} topic
 */
function changed(topic) {
  switch (topic) {
    case "connection": header.renderConnection(); break;
    case "looks": header.renderLooks(); break;
    case "worlds": header.renderWorldSelect(); break;
    case "status": renderBanners(state); header.renderAdmin(); break;
    case "roster": header.renderPlaying(); talk.render(); showDetails(); break;
    case "conversations": talk.render(); showDetails(); break;
    case "descriptions":
      if (state.map) renderer.setMap(state.map);
      header.renderPlaying();
      showDetails();
      break;
    case "sheets": renderer.sheets.set(state.sheets); break;
    case "lines": talk.render(); showDetails(); break;
    case "selected": showDetails(); break;
    case "health": renderMinds(state); renderBanners(state); break;
  }
}

function showDetails() {
  renderDetails(state, {
    invite: () => feed.sendInput("startConversation", { playerId: state.me,
                                                        invitee: state.selected }),
    join: (conversationId) => feed.sendInput("joinConversation", { playerId: state.me,
                                                                   conversationId }),
    follow: () => {
      state.following = !state.following;
      showDetails();
    },
  });
}

/**
 * A click on someone selects them; on an empty tile it walks there (when playing).
 * @param {Point} point in world pixels
 */
function onMapClick(point) {
  if (!state.world) return;
  const player = renderer.playerAt(point);
  if (player) {
    feed.select(player.id);
  } else if (state.me) {
    feed.sendInput("moveTo", { playerId: state.me, destination: {
      x: Math.floor(point.x / TILE), y: Math.floor(point.y / TILE) } });
  } else {
    feed.select(null);
  }
}

byId("zoom-in", HTMLButtonElement).addEventListener("click", () => camera.zoom(1.25));
byId("zoom-out", HTMLButtonElement).addEventListener("click", () => camera.zoom(0.8));
byId("zoom-fit", HTMLButtonElement).addEventListener("click", () => {
  state.following = false;
  camera.fit();
});
window.addEventListener("keydown", (event) => {
  if (event.target instanceof Element && event.target.closest("input, select, textarea")) return;
  if (event.key === "+" || event.key === "=") camera.zoom(1.25);
  if (event.key === "-") camera.zoom(0.8);
});
window.addEventListener("hashchange", () => header.readAdminKey());

// What tests (and curious people) read from the console: the state, and a few probes.
/** @type {Window & {smalltown?: object}} */ (window).smalltown = Object.assign(state, {
  camera,
  subscriptions: () => feed.subscriptionPaths(),
  /** the cells of the map followed now, as "column,row" */
  cells: () => [...feed.cellSubscriptions.keys()],
  /** @param {string} playerId */
  positionOf: (playerId) => {
    const player = state.world && state.world.players.find((p) => p.id === playerId);
    return player ? renderer.place(player) : null;
  },
  /** @param {number} x @param {number} y a tile */
  tileToClient: (x, y) => camera.toClient((x + 0.5) * TILE, (y + 0.5) * TILE),
  /** @param {string | null} playerId */
  select: (playerId) => feed.select(playerId),
  /** the last frame's labels, bubbles, controls and person height (`Renderer.debug`) */
  debug: renderer.debug,
  spriteCount: () => renderer.painter.sprites.length,
  spriteFramesShown: () => renderer.painter.framesShown,
  /** which sheet frame each resident drawn from an imported sprite sheet showed last */
  sheetFrames: () => renderer.sheetFrames,
});

// The feed follows the part of the map in view, wherever the camera went this frame.
function followView() {
  requestAnimationFrame(followView);
  feed.setView(camera.visibleTiles(TILE));
}

feed.start();
header.readAdminKey();
renderer.start();
followView();
