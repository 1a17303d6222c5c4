// @ts-check
// The details panel: who the selected person is, what they say now, said before and remember.
// Their conversation now is live; past ones come with every line; a resident's memories and
// today's plan too.
import { byId, element } from "./dom.js";
import { describe, myConversation, othersIn } from "./state.js";

/** @import { PageState } from "./state.js" */
/** @import { DayPlan } from "./types.js" */

const MAX_GROUP = 4;  // the engine's MAX_GROUP_SIZE: a full conversation takes no one more
const opened = new Set();  // past conversations left open survive the panel's re-renders
let shown = "";  // the markup the panel holds now

/**
 * Put `parts` in the panel, unless it shows just that already. The panel is rendered again
 * on every change in the town (any line, anyone typing): replacing it each time would take
 * a button away between its press and release, and the click with it.
 * @param {HTMLElement} details
 * @param {HTMLElement[]} parts
 */
function show(details, parts) {
  const markup = parts.map((part) => part.outerHTML).join("");
  if (markup === shown && details.childElementCount === parts.length) return;
  shown = markup;
  details.replaceChildren(...parts);
}

/** @param {{authorName: string, text: string}[]} messages */
function transcript(messages) {
  return element("ol", { class: "lines" },
    ...messages.map((m) => element("li", {}, element("b", {}, m.authorName), `: ${m.text}`)));
}

/** @param {number} ms a time, ms since the epoch */
function ago(ms) {
  const minutes = Math.round((Date.now() - ms) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} days ago`;
}

/**
 * A resident's plan for today, the item under way marked, with its short steps.
 * @param {DayPlan} plan
 */
function todaysPlan(plan) {
  return element("section", { class: "today", id: "todays-plan" },
    element("h3", {}, "Today's plan"),
    element("ol", {}, ...plan.items.map((item, n) => element("li",
      n === plan.current ? { class: "now", title: "under way" } : {},
      element("span", { class: "time" }, item.time), " ",
      `${item.emoji || ""} ${item.activity}`.trim(), " ",
      element("span", { class: "hint" }, `at ${item.place}`),
      n === plan.current && item.steps.length
        ? element("ul", { class: "steps" }, ...item.steps.map((s) => element("li", {}, s)))
        : null))));
}

/**
 * @param {PageState} state
 * @param {{invite: () => void, follow: () => void, join: (conversationId: string) => void}}
 *   actions the panel's buttons
 */
export function renderDetails(state, { invite, follow, join }) {
  const details = byId("details", HTMLElement);
  const world = state.world;
  if (!state.selected || !world) {
    show(details, [element("p", { class: "hint" },
      "Click someone to see who they are. Drag to pan, scroll to zoom.")]);
    return;
  }
  const id = state.selected;
  const desc = describe(state, id);
  const player = world.players.find((p) => p.id === id);
  const agent = world.agents.find((a) => a.playerId === id);
  const agentDesc = agent && state.descriptions
    ? state.descriptions.agentDescriptions.find((a) => a.agentId === agent.id) : null;
  const conversation = world.conversations.find(
    (c) => c.participants.some((p) => p.playerId === id));
  const parts = [element("h2", { "data-player": id }, desc ? desc.name : id)];
  if (!player) parts.push(element("p", { class: "hint" }, "Has left the town."));
  if (agentDesc) {
    parts.push(element("p", {}, agentDesc.identity),
               element("p", { class: "plan" }, element("em", {}, agentDesc.plan)));
  } else if (desc && desc.description) {
    parts.push(element("p", {}, desc.description));
  }
  if (player && player.activity && player.activity.description) {
    parts.push(element("p", { class: "hint" },
      `${player.activity.emoji || ""} ${player.activity.description}`.trim()));
  }
  const plan = agent && state.details ? state.details.plan : null;
  if (plan) parts.push(todaysPlan(plan));
  const buttons = [element("button", { type: "button", id: "follow", onclick: follow },
                           state.following ? "Stop following" : "Follow")];
  if (state.me && id !== state.me && !conversation && player) {
    buttons.push(element("button", { type: "button", id: "invite", onclick: invite },
                         "Invite to talk"));
  }
  const talking = conversation
    && conversation.participants.every((p) => p.status.kind === "participating");
  if (state.me && id !== state.me && talking && !myConversation(state)
      && conversation.participants.length < MAX_GROUP) {
    buttons.push(element("button", { type: "button", id: "join-conversation",
                                     "data-conversation": conversation.id,
                                     title: "walk up to them first",
                                     onclick: () => join(conversation.id) },
                         "Join the conversation"));
  }
  parts.push(element("div", { class: "buttons" }, ...buttons));

  if (conversation) {
    const lines = state.transcripts.get(conversation.id) || [];
    // Your own conversation's lines are in the conversation panel above: not twice.
    const yours = Boolean(state.me) && conversation.participants.some(
      (p) => p.playerId === state.me);
    parts.push(element("section", { class: "current", id: "current-conversation" },
      element("h3", { title: "follow them on the map", onclick: follow, class: "link" },
              `Talking with ${othersIn(state, conversation, id)} now`),
      yours ? element("p", { class: "hint" }, "Your conversation: its lines are above.")
        : lines.length ? transcript(lines)
        : element("p", { class: "hint" }, conversation.isTyping ? "…" : "Nothing said yet.")));
  }

  const extra = state.details;
  // A conversation that ended before anyone spoke has nothing to show.
  const past = extra ? extra.pastConversations.filter((c) => c.messages.length > 0) : [];
  if (past.length) {
    parts.push(element("h3", {}, "Earlier conversations"),
      ...past.map((c) => element("details", {
        class: "past",
        "data-conversation": c.id,
        ...(opened.has(c.id) ? { open: "" } : {}),
        ontoggle: (event) => {
          if (/** @type {HTMLDetailsElement} */ (event.target).open) opened.add(c.id);
          else opened.delete(c.id);
        },
      },
        element("summary", {}, `With ${c.with}, ${ago(c.ended)} (${c.messages.length} lines)`),
        transcript(c.messages))));
  }
  if (agent && extra && extra.memories.length) {
    parts.push(element("h3", {}, "Remembers lately"),
      element("ul", { class: "memories" }, ...extra.memories.map((m) => element("li", {},
        element("span", { class: `importance i${Math.round(m.importance)}`,
                          title: "importance, 0 to 9" }, String(Math.round(m.importance))),
        m.kind === "reflection" ? element("em", {}, " insight: ") : " ",
        m.description))));
  } else if (agent && extra) {
    parts.push(element("p", { class: "hint" }, "No memories yet."));
  }
  show(details, parts);
}
