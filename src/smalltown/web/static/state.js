// @ts-check
// The page's one state object: what the feed heard from the server and what the person chose.
// The feed writes the server's part; the renderer and panels read it.

/**
 * @import { CharacterSheet, Conversation, Descriptions, Line, Look, PlayerDescription,
 *   PlayerDetails, Roster, World, WorldMap, WorldStatus } from "./types.js"
 * @import { Overview } from "./viewport.js"
 */

/**
 * The page's state, also `window.smalltown` for tests and the curious.
 * @typedef {object} PageState
 * @property {boolean} connected the sync socket is open
 * @property {WorldStatus[] | null} worlds every world (`world:listWorlds`)
 * @property {WorldStatus | null} status the world shown
 * @property {Roster | null} roster who is in it
 * @property {Conversation[] | null} conversations the live conversations of the players in
 *   view and in the panels
 * @property {World | null} world the players in view (and in the panels) with their latest
 *   views, and their conversations
 * @property {Overview | null} overview everyone's place, while zoomed out too far to follow
 *   the players in view one by one
 * @property {Descriptions | null} descriptions the map and who everyone is
 * @property {WorldMap | null} map
 * @property {CharacterSheet[]} sheets the sprite sheets its residents wear, if imported
 * @property {Map<string, Line[]>} transcripts each live conversation's lines, by its id
 * @property {Map<string, {text: string, at: number}>} said each player's latest line and when
 *   it arrived (performance.now()), for the bubbles
 * @property {Look[] | null} looks the characters a person may join as
 * @property {string | null} llm what speaks, from /health
 * @property {string | null} embedder what remembers, from /health
 * @property {string | null} selected the player the details panel shows
 * @property {PlayerDetails | null} details their past conversations and memories
 * @property {boolean} following the camera keeps the selected player in the middle
 * @property {string | null} identifier this browser's token identifier, once it joined
 * @property {string | null} me this browser's player in the world shown
 * @property {string | null} adminKey given as #admin=KEY, kept for this tab
 * @property {number} drawnPlayers how many people the last frame drew
 */

/** @returns {PageState} */
export function createState() {
  return {
    connected: false, worlds: null, status: null, roster: null, conversations: null,
    world: null, overview: null, descriptions: null, map: null, sheets: [], transcripts: new Map(), said: new Map(),
    looks: null, llm: null, embedder: null, selected: null, details: null, following: false,
    identifier: localStorage.getItem("smalltown.identifier"), me: null,
    adminKey: sessionStorage.getItem("smalltown.adminKey"), drawnPlayers: 0,
  };
}

/**
 * Who a player is, once the descriptions came.
 * @param {PageState} state
 * @param {string} playerId
 * @returns {PlayerDescription | null}
 */
export function describe(state, playerId) {
  const d = state.descriptions;
  return d ? d.playerDescriptions.find((p) => p.playerId === playerId) || null : null;
}

/**
 * The names of a conversation's participants other than `playerId`: "A", "A and B", "A, B and C".
 * @param {PageState} state
 * @param {Conversation} conversation
 * @param {string | null} playerId
 */
export function othersIn(state, conversation, playerId) {
  const names = conversation.participants.filter((p) => p.playerId !== playerId)
    .map((p) => { const d = describe(state, p.playerId); return d ? d.name : p.playerId; });
  if (names.length === 0) return "someone";
  return names.length === 1 ? names[0]
    : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/**
 * The conversation this browser's player is in (invited, walking over or talking).
 * @param {PageState} state
 * @returns {Conversation | null}
 */
export function myConversation(state) {
  const me = state.me;
  if (!me || !state.world) return null;
  return state.world.conversations.find((c) => c.participants.some((p) => p.playerId === me))
    || null;
}
