// @ts-check
// The conversation panel: accept or decline an invitation, read the lines, say something.
// Others see "typing…" while you write.
import { byId } from "./dom.js";
import { describe, myConversation, othersIn } from "./state.js";

/**
 * @import { TownFeed } from "./feed.js"
 * @import { PageState } from "./state.js"
 */

export class TalkPanel {
  /**
   * @param {PageState} state
   * @param {TownFeed} feed
   */
  constructor(state, feed) {
    this.state = state;
    this.feed = feed;
    /** @type {string | null} the conversation we last said "typing…" in */
    this.typingSent = null;
    /** @type {string | null} the id the next line was announced with */
    this.typingUuid = null;
    this.message = byId("message", HTMLInputElement);
    byId("accept", HTMLButtonElement).addEventListener("click", () => this.send("acceptInvite"));
    byId("reject", HTMLButtonElement).addEventListener("click", () => this.send("rejectInvite"));
    byId("goodbye", HTMLButtonElement).addEventListener("click",
      () => this.send("leaveConversation"));
    this.message.addEventListener("input", () => this.typing());
    byId("say", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      this.say();
    });
  }

  /** @returns {{playerId: string, conversationId: string} | null} */
  conversationArgs() {
    const conversation = myConversation(this.state);
    return conversation && this.state.me
      ? { playerId: this.state.me, conversationId: conversation.id } : null;
  }

  /** @param {string} input `acceptInvite`, `rejectInvite` or `leaveConversation` */
  send(input) {
    const args = this.conversationArgs();
    if (args) this.feed.sendInput(input, args);
  }

  typing() {
    const args = this.conversationArgs();
    if (!args || this.typingSent === args.conversationId) return;
    this.typingSent = args.conversationId;
    this.typingUuid = crypto.randomUUID();
    this.feed.sendInput("startTyping", { ...args, messageUuid: this.typingUuid });
  }

  say() {
    const args = this.conversationArgs();
    const text = this.message.value.trim();
    if (!args || !text) return;
    const messageUuid = this.typingUuid || crypto.randomUUID();
    this.typingSent = null;
    this.typingUuid = null;
    this.message.value = "";
    this.feed.say(args.conversationId, messageUuid, text);
  }

  render() {
    const state = this.state;
    const conversation = myConversation(state);
    const mine = conversation && conversation.participants.find((p) => p.playerId === state.me);
    byId("talk", HTMLElement).hidden = !mine;
    if (!conversation || !mine) return;
    // Two people, or a group: everyone else by name, and whoever is typing.
    const otherName = othersIn(state, conversation, state.me);
    const kind = mine.status.kind;
    const typist = conversation.isTyping && conversation.isTyping.playerId !== state.me
      ? describe(state, conversation.isTyping.playerId) : null;
    const typing = typist ? ` ${typist.name} is typing…`
      : conversation.isTyping && conversation.isTyping.playerId !== state.me
        ? " Someone is typing…" : "";
    byId("talk-state", HTMLElement).textContent = {
      invited: `${otherName} invites you to talk.`,
      walkingOver: `Walking over to ${otherName}…`,
      participating: `Talking with ${otherName}.${typing}`,
    }[kind];
    byId("accept", HTMLButtonElement).hidden = kind !== "invited";
    byId("reject", HTMLButtonElement).hidden = kind !== "invited";
    byId("say", HTMLFormElement).hidden = kind !== "participating";
    const lines = state.transcripts.get(conversation.id) || [];
    byId("transcript", HTMLElement).replaceChildren(...lines.map((m) => {
      const li = document.createElement("li");
      li.textContent = `${m.authorName}: ${m.text}`;
      return li;
    }));
  }
}
