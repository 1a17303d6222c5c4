// @ts-check
// The header: connection, world selector, admin buttons, and the join form or who you play.
// The join form offers the looks the server lists; once joined, a way to leave.
import { byId, element } from "./dom.js";
import { describe } from "./state.js";

/**
 * @import { TownFeed } from "./feed.js"
 * @import { PageState } from "./state.js"
 */

export class Header {
  /**
   * @param {PageState} state
   * @param {TownFeed} feed what the header's controls ask of the server
   */
  constructor(state, feed) {
    this.state = state;
    this.feed = feed;
    this.connection = byId("connection", HTMLElement);
    this.worldSelect = byId("world-select", HTMLSelectElement);
    this.character = byId("character", HTMLSelectElement);
    this.worldSelect.addEventListener("change", () => this.chooseWorld());
    byId("freeze", HTMLButtonElement).addEventListener("click",
      () => feed.adminCall("testing:stop"));
    byId("resume", HTMLButtonElement).addEventListener("click",
      () => feed.adminCall("testing:resume"));
    byId("join", HTMLFormElement).addEventListener("submit", (event) => {
      event.preventDefault();
      if (!this.character.value) return;  // the looks have not come yet
      feed.join(byId("name", HTMLInputElement).value, this.character.value);
    });
    byId("leave", HTMLButtonElement).addEventListener("click", () => feed.leave());
  }

  renderConnection() {
    const up = this.state.connected;
    this.connection.textContent = up ? "live" : "reconnecting…";
    this.connection.className = up ? "pill ok" : "pill";
  }

  /** The world picked from the selector is shown, and kept in the address. */
  chooseWorld() {
    const worlds = this.state.worlds || [];
    const chosen = worlds.find((w) => w.worldId === this.worldSelect.value);
    if (!chosen) return;
    const url = new URL(location.href);
    url.searchParams.set("world", chosen.worldId);
    history.replaceState(null, "", url);
    this.feed.showWorld(chosen);
  }

  /** The selector, shown when there is more than one world. */
  renderWorldSelect() {
    const worlds = this.state.worlds || [];
    this.worldSelect.hidden = worlds.length < 2;
    this.worldSelect.replaceChildren(...worlds.map((w, i) => {
      const option = document.createElement("option");
      option.value = w.worldId;
      option.textContent = `World ${i + 1}${w.isDefault ? " (default)" : ""}` +
        (w.status === "running" ? "" : ` — ${w.status === "inactive" ? "asleep" : "frozen"}`);
      return option;
    }));
    if (this.state.status) this.worldSelect.value = this.state.status.worldId;
  }

  /** An admin key given as #admin=KEY is kept for this tab only and taken out of the address. */
  readAdminKey() {
    if (!location.hash.startsWith("#admin=")) return;
    this.state.adminKey = decodeURIComponent(location.hash.slice("#admin=".length));
    sessionStorage.setItem("smalltown.adminKey", this.state.adminKey);
    history.replaceState(null, "", location.pathname + location.search);
    this.renderAdmin();
  }

  /** Freeze or resume, for an admin: whichever the world is not. */
  renderAdmin() {
    const status = this.state.status;
    const admin = byId("admin", HTMLElement);
    admin.hidden = !this.state.adminKey || !status;
    if (!status || admin.hidden) return;
    const running = status.status === "running";
    byId("freeze", HTMLButtonElement).hidden = !running;
    byId("resume", HTMLButtonElement).hidden = running;
  }

  /** The characters a person may join as, as the server lists them; the choice is kept. */
  renderLooks() {
    const looks = this.state.looks || [];
    const chosen = this.character.value;
    this.character.replaceChildren(
      ...looks.map((look) => element("option", { value: look.character }, look.label)));
    if (looks.some((look) => look.character === chosen)) this.character.value = chosen;
  }

  /** The join form, or who you play once you joined. */
  renderPlaying() {
    const me = this.state.me;
    byId("join", HTMLFormElement).hidden = Boolean(me);
    byId("playing", HTMLElement).hidden = !me;
    if (me) {
      const desc = describe(this.state, me);
      byId("me-name", HTMLElement).textContent = desc ? desc.name : me;
    }
  }
}
