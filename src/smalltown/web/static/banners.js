// @ts-check
// The banners: what is wrong or paused and its fix, passing errors, what speaks and remembers.
import { byId } from "./dom.js";

/** @import { PageState } from "./state.js" */

const ERROR_MS = 8000;

/**
 * The lasting banners: the LLM's budget, its error or its absence, and a world that sleeps
 * or is frozen.
 * @param {PageState} state
 */
export function renderBanners(state) {
  /** @type {["info" | "warn" | "error", string][]} */
  const items = [];
  const status = state.status;
  const budget = status && status.smalltownLlmBudget;
  if (budget) {  // a spent hourly budget: a pause, not a fault (the error stays until a line)
    if (budget.resetsAt > Date.now()) {
      const at = new Date(budget.resetsAt).toLocaleTimeString([], { hour: "2-digit",
                                                                    minute: "2-digit" });
      items.push(["warn", `This world's LLM budget of ${budget.tokensPerHour.toLocaleString()} ` +
        `tokens an hour is spent: the characters keep walking, and talk again at ${at}. ` +
        `Raise ${budget.setting} to allow more.`]);
    }
  } else if (status && status.smalltownLlmError) {
    items.push(["error", `The characters cannot speak: ${status.smalltownLlmError}`]);
  } else if (state.llm && state.llm.startsWith("offline")) {
    items.push(["info", "No LLM is configured, so the characters talk from templates (the " +
      "offline brain). Set OPENAI_API_KEY, LLM_API_URL or OLLAMA_HOST and restart for real " +
      "conversations."]);
  }
  if (status && status.status !== "running") {
    items.push(["warn", status.status === "inactive"
      ? "This world is asleep: nobody watched it for 5 minutes. Watching wakes it."
      : "This world is frozen by its admin."]);
  }
  byId("banners", HTMLElement).replaceChildren(...items.map(([kind, text]) => {
    const div = document.createElement("div");
    div.className = `banner-${kind}`;
    div.textContent = text;
    return div;
  }));
}

/**
 * An error banner for a few seconds (a refused input, a failed admin call).
 * @param {string} message
 */
export function showError(message) {
  const div = document.createElement("div");
  div.className = "banner-error";
  div.textContent = message;
  byId("banners", HTMLElement).append(div);
  setTimeout(() => div.remove(), ERROR_MS);
}

/**
 * What speaks and what remembers, as /health says.
 * @param {PageState} state
 */
export function renderMinds(state) {
  byId("minds", HTMLElement).textContent = state.llm
    ? `Words: ${state.llm}. Memories: ${state.embedder || "unknown"}.` : "";
}
