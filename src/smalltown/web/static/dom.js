// @ts-check
// Small helpers for the page's DOM: find an element by id, build one, get a 2-D context.

/**
 * The element with this id, of this kind (the page is broken without it).
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{new (): T, name: string}} kind e.g. HTMLInputElement
 * @returns {T}
 */
export function byId(id, kind) {
  const node = document.getElementById(id);
  if (!(node instanceof kind)) throw new Error(`smalltown: the page has no ${kind.name} #${id}`);
  return node;
}

/**
 * A new element: string attributes are set, functions become `on<event>` listeners.
 * @param {string} tag
 * @param {Record<string, string | ((event: Event) => void)>} attributes
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElement}
 */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(.../** @type {(Node | string)[]} */ (
    children.filter((c) => c !== null && c !== undefined)));
  return node;
}

/**
 * The canvas's 2-D drawing context.
 * @param {HTMLCanvasElement} canvas
 * @returns {CanvasRenderingContext2D}
 */
export function context2d(canvas) {
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("smalltown: this browser cannot draw on a canvas");
  return ctx;
}
