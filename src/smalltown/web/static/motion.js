// @ts-check
// Where people are now: the page's game clock and each player's place along its timed path.
// Both run between the server's updates, so motion is smooth.

/** @import { Facing, PlayerView } from "./types.js" */

/**
 * Where a player is drawn: a tile position (fractional while walking) and a facing.
 * @typedef {{x: number, y: number, facing?: Facing, moving?: boolean}} Placed
 */

/**
 * The server sends the game time of each step; between steps the page runs its own clock
 * at the rate the game has been advancing (faster than the wall clock when time is scaled).
 */
export class GameClock {
  constructor() {
    /** @type {{currentTime: number, received: number, rate: number} | null} */
    this.last = null;
  }

  /** Forget the world's time (another world is shown). */
  reset() {
    this.last = null;
  }

  /** @param {number} currentTime a step's game time, as `world:worldClock` sends it */
  tick(currentTime) {
    const now = performance.now();
    const last = this.last;
    let rate = last ? last.rate : 1;
    if (last && now > last.received && currentTime > last.currentTime) {
      const seen = (currentTime - last.currentTime) / (now - last.received);
      rate = Math.min(100, Math.max(0.1, 0.7 * rate + 0.3 * seen));
    }
    this.last = { currentTime, received: now, rate };
  }

  /** @returns {number} the game time now (0 before the first step is heard) */
  now() {
    const clock = this.last;
    if (!clock) return 0;
    const elapsed = Math.min(performance.now() - clock.received, 3000);
    return clock.currentTime + elapsed * clock.rate;
  }
}

/**
 * Where a player is at game time `now`: along its timed path while walking; where the
 * server put it otherwise.
 * @param {PlayerView} player
 * @param {number} now
 * @returns {Placed}
 */
export function position(player, now) {
  if (!player.path) return { x: player.position.x, y: player.position.y, facing: player.facing };
  const path = player.path;
  if (now <= path[0][4]) {
    return { x: path[0][0], y: path[0][1], facing: { dx: path[0][2], dy: path[0][3] } };
  }
  for (let i = 1; i < path.length; i++) {
    const [x0, y0, dx, dy, t0] = path[i - 1];
    const [x1, y1, , , t1] = path[i];
    if (now < t1) {
      const f = (now - t0) / (t1 - t0);
      return { x: x0 + (x1 - x0) * f, y: y0 + (y1 - y0) * f, facing: { dx, dy }, moving: true };
    }
  }
  const last = path[path.length - 1];
  return { x: last[0], y: last[1], facing: { dx: last[2], dy: last[3] } };
}
