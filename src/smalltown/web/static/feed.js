// @ts-check
// The socket feed: live queries of the shown world into the page's state, and what it sends.
// Sent: inputs, joining and leaving, lines, heartbeats, and the admin's freeze and resume.
import { SyncClient } from "./sync.js";
import { FEW_PLAYERS, Overview, OVERVIEW_MS, cellRect, plan } from "./viewport.js";

/**
 * @import { AnimatedSprite, CharacterSheet, Conversation, Descriptions, InputResult, Joined,
 *   Line, Look, PlayerDetails, PlayerView, Roster, WorldStatus } from "./types.js"
 * @import { GameClock } from "./motion.js"
 * @import { PageState } from "./state.js"
 * @import { Tiles } from "./viewport.js"
 */

/**
 * What `viewport:region` and `viewport:players` send: players and their conversations.
 * @typedef {{players: PlayerView[], conversations: Conversation[]}} Region
 */

/**
 * What changed, so the page redraws the parts that show it.
 * @typedef {"connection" | "looks" | "worlds" | "status" | "roster" | "conversations"
 *   | "descriptions" | "sheets" | "lines" | "selected" | "health"} Topic
 */

/**
 * @typedef {object} FeedHooks
 * @property {(topic: Topic) => void} changed told after the state changed
 * @property {(message: string) => void} failed told what the server refused, for a banner
 */

/** Paths the server serves its maps' images under. */
const SERVED = ["/assets/", "/api/storage/"];

/**
 * A map image's URL as this page loads it. The server names its own images by whole URLs
 * (its public address, for pages on other origins such as AI Town's); this page came from
 * the server itself, so it loads them from where it was loaded, whatever address that was.
 * @param {string} url
 */
export function servedHere(url) {
  const whole = new URL(url, location.href);
  return SERVED.some((p) => whole.pathname.startsWith(p)) ? whole.pathname + whole.search : url;
}

export class TownFeed {
  /**
   * @param {PageState} state written with what the server sends
   * @param {GameClock} clock ticked with each step's game time
   * @param {FeedHooks} hooks
   */
  constructor(state, clock, hooks) {
    this.state = state;
    this.clock = clock;
    this.changed = hooks.changed;
    this.failed = hooks.failed;
    this.client = new SyncClient((up) => {
      state.connected = up;
      this.changed("connection");
    });
    /** @type {(() => void)[]} the shown world's queries */
    this.worldSubscriptions = [];
    /** @type {Map<string, () => void>} one per live conversation, by its id */
    this.conversationSubscriptions = new Map();
    /** @type {Map<string, () => void>} in a world of few players, one small query per
     *  player: only those that set off or stop are sent again */
    this.playerSubscriptions = new Map();
    /** @type {Map<string, PlayerView>} */
    this.playerViews = new Map();
    /** @type {(() => void) | null} in a world of few players, its conversations */
    this.conversationsSubscription = null;
    /** @type {Conversation[] | null} what that query sent last */
    this.allConversations = null;
    /** @type {Map<string, () => void>} in a larger world, one region query per cell of the map around the
     *  view: only cells where someone sets off, stops or talks are sent again */
    this.cellSubscriptions = new Map();
    /** @type {Map<string, Region>} each followed cell's latest value */
    this.cellValues = new Map();
    /** @type {{key: string, stop: () => void, value: Region | null} | null} the players open
     *  in the panels (the selected one, this browser's own), wherever they are */
    this.panels = null;
    /** @type {ReturnType<typeof setInterval> | null} fetching the overview, zoomed out */
    this.overviewTimer = null;
    /** @type {(() => void) | null} the selected player's details */
    this.detailsSubscription = null;
    /** @type {AnimatedSprite[] | null} the animated sprites drawn on the map, each sheet by
     *  its URL (null until the server said) */
    this.mapSprites = null;
  }

  /** Resume this browser's player, follow the worlds, and keep the server told. */
  start() {
    const saved = localStorage.getItem("smalltown.token");
    if (saved) this.client.setAuth(saved);  // a reload resumes the same player
    this.client.subscribe("world:listWorlds", {}, (/** @type {WorldStatus[] | null} */ worlds) => {
      if (!worlds) return;
      const state = this.state;
      state.worlds = worlds;
      const wanted = new URLSearchParams(location.search).get("world");
      const shown = state.status ? state.status.worldId : null;
      const chosen = worlds.find((w) => w.worldId === shown)
        || worlds.find((w) => w.worldId === wanted)
        || worlds.find((w) => w.isDefault) || worlds[0] || null;
      this.showWorld(chosen);  // first, so the selector below names the world shown
      this.changed("worlds");
    });
    this.client.subscribe("characters:choosable", {}, (/** @type {Look[] | null} */ looks) => {
      if (!looks) return;
      this.state.looks = looks;
      this.changed("looks");
    });
    setInterval(() => this.heartbeat(), 60000);
    this.loadHealth();
    setInterval(() => this.loadHealth(), 30000);
  }

  /** @returns {string[]} the function of every live query, for tests */
  subscriptionPaths() {
    return [...this.client.queries.values()].map((q) => q.path);
  }

  /**
   * Show this world (or none): its status now, and when it is another world, forget the
   * last one and follow this one.
   * @param {WorldStatus | null} status
   */
  showWorld(status) {
    const state = this.state;
    const changed = (status && status.worldId) !== (state.status && state.status.worldId);
    state.status = status;
    this.changed("status");
    if (!changed) return;
    this.worldSubscriptions.forEach((stop) => stop());
    this.conversationSubscriptions.forEach((stop) => stop());
    this.conversationSubscriptions = new Map();
    this.dropCells();
    this.leaveOverview();
    this.dropPlayers();
    if (this.panels) this.panels.stop();
    this.panels = null;
    Object.assign(state, { world: null, roster: null, conversations: null, descriptions: null,
                           map: null, sheets: [], me: null, details: null, following: false,
                           selected: null });
    this.mapSprites = null;
    this.changed("sheets");
    this.clock.reset();
    state.transcripts.clear();
    state.said.clear();
    this.select(null);
    if (!status) return;
    const worldId = status.worldId;
    this.worldSubscriptions = [
      this.client.subscribe("world:worldRoster", { worldId }, (/** @type {Roster | null} */ roster) => {
        if (!roster) return;
        state.roster = roster;
        const mine = state.identifier
          ? roster.players.find((p) => p.human === state.identifier) : null;
        state.me = mine ? mine.id : null;
        if (roster.players.length <= FEW_PLAYERS) {
          this.dropCells();
          this.leaveOverview();
          this.followPlayers(worldId, roster);
        } else {
          this.dropPlayers();
        }
        this.followPanels();
        this.rebuildWorld();
        this.changed("roster");
      }),
      this.client.subscribe("world:worldClock", { worldId },
        (/** @type {{currentTime: number} | null} */ value) => {
          if (value) this.clock.tick(value.currentTime);
        }),
      this.client.subscribe("world:gameDescriptions", { worldId },
        (/** @type {Descriptions | null} */ value) => {
          if (!value) return;
          state.descriptions = value;
          this.composeMap();
          this.changed("descriptions");
        }),
      this.client.subscribe("characters:animatedSprites", { worldId },
        (/** @type {AnimatedSprite[] | null} */ value) => {
          if (!value) return;
          this.mapSprites = value;
          this.composeMap();
          this.changed("descriptions");
        }),
      this.client.subscribe("characters:sheets", { worldId },
        (/** @type {CharacterSheet[] | null} */ value) => {
          if (!value) return;
          state.sheets = value;
          this.changed("sheets");
        }),
    ];
    this.heartbeat();
  }

  /**
   * The map as this page draws it: its images loaded from where the page came from, with
   * the animated sprites the server lists for this page (the map's own name sheets only
   * AI Town's page knows by name).
   */
  composeMap() {
    const map = this.state.descriptions && this.state.descriptions.worldMap;
    const sprites = this.mapSprites;
    if (!sprites) return;  // drawn once its sprites are known, not fetched twice
    this.state.map = map && {
      ...map,
      tileSetUrl: servedHere(map.tileSetUrl),
      animatedSprites: sprites.map((sprite) => ({ ...sprite, sheet: servedHere(sprite.sheet) })),
    };
  }

  /**
   * Follow the part of the map in view (tiles): the cells around it, or everyone's place
   * when zoomed out too far. Called every frame; does nothing unless a cell comes or goes.
   * @param {Tiles} view
   */
  setView(view) {
    const { status, map, roster } = this.state;
    if (!status || !map || !roster || this.few()) return;
    const wanted = plan(view, map.width, map.height);
    if (wanted.overview) {
      this.enterOverview(status.worldId);
      return;
    }
    this.leaveOverview();
    let dropped = false;
    for (const [key, stop] of this.cellSubscriptions) {
      if (wanted.kept.has(key)) continue;
      stop();
      this.cellSubscriptions.delete(key);
      dropped = this.cellValues.delete(key) || dropped;
    }
    for (const key of wanted.wanted) {
      if (this.cellSubscriptions.has(key)) continue;
      const worldId = status.worldId;
      this.cellSubscriptions.set(key, this.client.subscribe(
        "viewport:region", { worldId, ...cellRect(key) }, (/** @type {Region | null} */ value) => {
          if (!value || !this.cellSubscriptions.has(key)) return;
          this.cellValues.set(key, value);
          this.rebuildWorld();
        }));
    }
    if (dropped) this.rebuildWorld();
  }

  /** @returns {boolean} the world is small enough to follow every player in it */
  few() {
    const roster = this.state.roster;
    return Boolean(roster && roster.players.length <= FEW_PLAYERS);
  }

  /**
   * A world of few players: one live view per player in the roster (new players followed,
   * gone ones dropped) and all its conversations.
   * @param {string} worldId
   * @param {Roster} roster
   */
  followPlayers(worldId, roster) {
    const here = new Set(roster.players.map((p) => p.id));
    for (const [id, stop] of this.playerSubscriptions) {
      if (!here.has(id)) {
        stop();
        this.playerSubscriptions.delete(id);
        this.playerViews.delete(id);
      }
    }
    for (const id of here) {
      if (this.playerSubscriptions.has(id)) continue;
      this.playerSubscriptions.set(id, this.client.subscribe(
        "world:playerView", { worldId, playerId: id }, (/** @type {PlayerView | null} */ view) => {
          if (!view || !this.playerSubscriptions.has(id)) return;
          this.playerViews.set(id, view);
          this.rebuildWorld();
        }));
    }
    if (this.conversationsSubscription) return;
    this.conversationsSubscription = this.client.subscribe("world:worldConversations",
      { worldId }, (/** @type {Conversation[] | null} */ conversations) => {
        if (!conversations || !this.conversationsSubscription) return;
        this.allConversations = conversations;
        this.rebuildWorld();
      });
  }

  /** Stop following each player and all conversations (the world grew, or is left). */
  dropPlayers() {
    this.playerSubscriptions.forEach((stop) => stop());
    this.playerSubscriptions = new Map();
    this.playerViews = new Map();
    if (this.conversationsSubscription) this.conversationsSubscription();
    this.conversationsSubscription = null;
    this.allConversations = null;
  }

  /** Stop following every cell. */
  dropCells() {
    this.cellSubscriptions.forEach((stop) => stop());
    this.cellSubscriptions = new Map();
    this.cellValues = new Map();
  }

  /**
   * Zoomed out: no cells, but everyone's place every few seconds.
   * @param {string} worldId
   */
  enterOverview(worldId) {
    if (this.overviewTimer !== null) return;
    this.dropCells();
    const overview = new Overview();
    this.state.overview = overview;
    const fetchOverview = async () => {
      try {
        const response = await fetch("/api/query", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ path: "viewport:overview", args: { worldId }, format: "json" }),
        });
        const body = await response.json();
        if (body.status === "success" && this.state.overview === overview) overview.take(body.value);
      } catch (error) {
        // the next fetch tries again; the socket's banner says when the server is away
      }
    };
    fetchOverview();
    this.overviewTimer = setInterval(fetchOverview, OVERVIEW_MS);
    this.rebuildWorld();
  }

  leaveOverview() {
    if (this.overviewTimer === null) return;
    clearInterval(this.overviewTimer);
    this.overviewTimer = null;
    this.state.overview = null;
  }

  /** Follow the players open in the panels: the selected one and this browser's own. */
  followPanels() {
    const { status, selected, me } = this.state;
    const ids = this.few() ? [] : [...new Set([selected, me].filter((id) => id !== null))];
    const key = status ? `${status.worldId}:${ids.join(",")}` : "";
    if (this.panels && this.panels.key === key) return;
    if (this.panels) this.panels.stop();
    this.panels = null;
    if (!status || !ids.length) return;
    const panels = { key, stop: () => {}, value: /** @type {Region | null} */ (null) };
    this.panels = panels;
    panels.stop = this.client.subscribe(
      "viewport:players", { worldId: status.worldId, playerIds: ids },
      (/** @type {Region | null} */ value) => {
        if (!value || this.panels !== panels) return;
        panels.value = value;
        this.rebuildWorld();
      });
  }

  /** The world as the rest of the page reads it: in a world of few players, the roster
   *  with each player's latest view and all conversations; in a larger one, the players
   *  and conversations of the panels and every followed cell, each once. */
  rebuildWorld() {
    const state = this.state;
    const { roster, status } = state;
    if (!roster || !status) return;
    /** @type {Map<string, PlayerView>} */
    const players = new Map();
    /** @type {Map<string, Conversation>} */
    const conversations = new Map();
    if (this.few()) {
      if (!this.allConversations) return;
      for (const p of roster.players) {
        const view = this.playerViews.get(p.id);
        if (view) players.set(p.id, view);
      }
      for (const c of this.allConversations) conversations.set(c.id, c);
    } else {
      const values = [...(this.panels && this.panels.value ? [this.panels.value] : []),
                      ...this.cellValues.values()];
      for (const value of values) {
        for (const p of value.players) if (!players.has(p.id)) players.set(p.id, p);
        for (const c of value.conversations) {
          if (!conversations.has(c.id)) conversations.set(c.id, c);
        }
      }
    }
    const selectedBefore = JSON.stringify(this.selectedView());
    const talksBefore = JSON.stringify(state.conversations);
    state.conversations = [...conversations.values()];
    state.world = { players: [...players.values()], agents: roster.agents,
                    conversations: state.conversations };
    if (JSON.stringify(state.conversations) !== talksBefore) {
      this.followConversations(status.worldId, state.conversations);
      this.changed("conversations");
    }
    if (JSON.stringify(this.selectedView()) !== selectedBefore) this.changed("selected");
  }

  /** @returns {PlayerView | null} the selected player's latest view */
  selectedView() {
    const { world, selected } = this.state;
    return (world && selected && world.players.find((p) => p.id === selected)) || null;
  }

  /**
   * The lines of every live conversation; a new line is also its author's latest words.
   * @param {string} worldId
   * @param {Conversation[]} conversations
   */
  followConversations(worldId, conversations) {
    const live = new Set(conversations.map((c) => c.id));
    for (const [id, stop] of this.conversationSubscriptions) {
      if (!live.has(id)) {
        stop();
        this.conversationSubscriptions.delete(id);
      }
    }
    for (const id of live) {
      if (this.conversationSubscriptions.has(id)) continue;
      this.conversationSubscriptions.set(id, this.client.subscribe(
        "messages:conversationLines", { worldId, conversationId: id },
        (/** @type {Line[] | null} */ messages) => {
          if (!messages) return;
          this.state.transcripts.set(id, messages);
          this.changed("lines");
          if (!messages.length) return;
          const last = messages[messages.length - 1];
          this.state.said.set(last.author, { text: last.text, at: performance.now() });
        }));
    }
  }

  /**
   * Show this player's details (null: nobody's), following them live.
   * @param {string | null} playerId
   */
  select(playerId) {
    const state = this.state;
    if (playerId === state.selected && this.detailsSubscription) return;
    state.selected = playerId;
    state.following = false;
    state.details = null;
    if (this.detailsSubscription) this.detailsSubscription();
    this.detailsSubscription = null;
    if (playerId && state.status) {
      this.detailsSubscription = this.client.subscribe(
        "world:playerDetails", { worldId: state.status.worldId, playerId },
        (/** @type {PlayerDetails | null} */ value) => {
          state.details = value;
          this.changed("selected");
        });
    }
    this.followPanels();
    this.changed("selected");
  }

  /** A world nobody watches falls asleep: say every minute that someone does. */
  heartbeat() {
    const status = this.state.status;
    if (status) this.client.mutation("world:heartbeatWorld", { worldId: status.worldId })
      .catch(() => {});
  }

  /** What speaks and what remembers, from /health (both null when it cannot be read). */
  async loadHealth() {
    const state = this.state;
    try {
      const health = await (await fetch("/health")).json();
      state.llm = health.app ? health.app.llm : null;
      state.embedder = health.app ? health.app.embedder : null;
    } catch (error) {
      state.llm = null;
      state.embedder = null;
    }
    this.changed("health");
  }

  /**
   * Send an input to the shown world's engine, as this browser's player. The engine takes
   * it at its next step and may refuse it then (too far away to join, say): that reason is
   * shown as well.
   * @param {string} name e.g. `moveTo`, `startConversation`
   * @param {object} args
   */
  sendInput(name, args) {
    const status = /** @type {WorldStatus} */ (this.state.status);
    return this.client.mutation("world:sendWorldInput", { engineId: status.engineId, name, args })
      .then((/** @type {string} */ inputId) => this.watchInput(inputId))
      .catch((error) => this.failed(error.message));
  }

  /**
   * Follow an input until its step is saved; say why if the engine refused it.
   * @param {string} inputId
   */
  watchInput(inputId) {
    const stop = this.client.subscribe("aiTown/main:inputStatus", { inputId },
      (/** @type {InputResult | null} */ result) => {
        if (!result) return;
        stop();
        if (result.kind === "error") this.failed(result.message);
      });
  }

  /**
   * Join the shown world; the token is kept, so a reload resumes the same player.
   * @param {string} name
   * @param {string} character
   */
  async join(name, character) {
    const state = this.state;
    if (!state.status) return;
    try {
      /** @type {Joined} */
      const joined = await this.client.mutation("world:joinWorld", {
        worldId: state.status.worldId, name, character });
      localStorage.setItem("smalltown.token", joined.token);
      localStorage.setItem("smalltown.identifier", joined.tokenIdentifier);
      state.identifier = joined.tokenIdentifier;
      this.client.setAuth(joined.token);
    } catch (error) {
      this.failed(/** @type {Error} */ (error).message);
    }
  }

  /** Leave the shown world and forget the token. */
  async leave() {
    const status = /** @type {WorldStatus} */ (this.state.status);
    await this.client.mutation("world:leaveWorld", { worldId: status.worldId })
      .catch((error) => this.failed(error.message));
    localStorage.removeItem("smalltown.token");
    localStorage.removeItem("smalltown.identifier");
    this.state.identifier = null;
    this.client.setAuth(null);
  }

  /**
   * Say something in a conversation, as this browser's player.
   * @param {string} conversationId
   * @param {string} messageUuid the one its "typing…" was announced with, if any
   * @param {string} text
   */
  async say(conversationId, messageUuid, text) {
    const state = this.state;
    const status = /** @type {WorldStatus} */ (state.status);
    try {
      await this.client.mutation("messages:writeMessage", {
        worldId: status.worldId, conversationId, messageUuid, playerId: state.me, text });
    } catch (error) {
      this.failed(/** @type {Error} */ (error).message);
    }
  }

  /**
   * An admin mutation on the shown world, over HTTP with the admin key.
   * @param {string} path `testing:stop` or `testing:resume`
   */
  async adminCall(path) {
    const state = this.state;
    const status = /** @type {WorldStatus} */ (state.status);
    const response = await fetch("/api/mutation", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Convex ${state.adminKey}` },
      body: JSON.stringify({ path, args: { worldId: status.worldId }, format: "json" }),
    });
    const body = await response.json().catch(() => ({}));
    if (body.status !== "success") {
      this.failed(`${path}: ${body.errorMessage || body.message || response.statusText}`);
    }
  }
}
