// @ts-check
// A small client for Convex's sync protocol: subscribe, mutate, reconnect and resubscribe.
// It talks only through public functions; reconnects back off up to 10 s.

/**
 * A Convex value as the page uses it: `$integer` and `$float` (base64, little-endian)
 * become numbers, everything else stays as JSON has it.
 * @param {any} value
 * @returns {any}
 */
function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$integer") {
      const bytes = Uint8Array.from(atob(value.$integer), (c) => c.charCodeAt(0));
      return Number(new DataView(bytes.buffer).getBigInt64(0, true));
    }
    if (keys.length === 1 && keys[0] === "$float") {
      const bytes = Uint8Array.from(atob(value.$float), (c) => c.charCodeAt(0));
      return new DataView(bytes.buffer).getFloat64(0, true);
    }
    /** @type {Record<string, any>} */
    const out = {};
    for (const key of keys) out[key] = decode(value[key]);
    return out;
  }
  return value;
}

/**
 * A live query: its function, its arguments and who hears its values.
 * @typedef {object} Query
 * @property {string} path
 * @property {object} args
 * @property {(value: any, error: string | null) => void} callback
 */

/**
 * A mutation sent and not yet answered (sent again after a reconnect).
 * @typedef {object} Pending
 * @property {(value: any) => void} resolve
 * @property {(error: Error) => void} reject
 * @property {object} message
 */

export class SyncClient {
  /** @param {(up: boolean) => void} onStatus told whenever the socket opens or closes */
  constructor(onStatus = () => {}) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = `${scheme}://${location.host}/api/sync`;
    this.onStatus = onStatus;
    /** @type {Map<number, Query>} */
    this.queries = new Map();
    this.nextQueryId = 0;
    this.querySet = 0;
    this.requestId = 0;
    /** @type {Map<number, Pending>} */
    this.waiting = new Map();
    this.backoff = 250;
    /** @type {string | null} */
    this.token = null;
    this.identity = 0;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.open();
  }

  /**
   * Act as the holder of a user token (null: nobody), now and after every reconnect.
   * @param {string | null} token
   */
  setAuth(token) {
    this.token = token;
    this.authenticate();
  }

  authenticate() {
    const base = this.identity;
    this.identity += 1;
    this.send(this.token
      ? { type: "Authenticate", tokenType: "User", value: this.token, baseVersion: base }
      : { type: "Authenticate", tokenType: "None", baseVersion: base });
  }

  open() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 250;
      this.onStatus(true);
      this.send({ type: "Connect", sessionId: crypto.randomUUID(), connectionCount: 0,
                  lastCloseReason: null, clientTs: Date.now() });
      this.querySet = 0;
      this.identity = 0;
      if (this.token) this.authenticate();
      const adds = [...this.queries].map(([queryId, q]) =>
        ({ type: "Add", queryId, udfPath: q.path, args: [q.args] }));
      if (adds.length) this.modify(adds);
      for (const pending of this.waiting.values()) this.send(pending.message);
    };
    ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    ws.onclose = () => {
      this.onStatus(false);
      setTimeout(() => this.open(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  /** @param {object} message */
  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** @param {object[]} modifications */
  modify(modifications) {
    const base = this.querySet;
    this.querySet += 1;
    this.send({ type: "ModifyQuerySet", baseVersion: base, newVersion: this.querySet,
                modifications });
  }

  /**
   * Hear a query's value now and whenever it changes; returns the way to stop.
   * @template T
   * @param {string} path
   * @param {object} args
   * @param {(value: T | null, error: string | null) => void} callback
   * @returns {() => void}
   */
  subscribe(path, args, callback) {
    const queryId = this.nextQueryId++;
    this.queries.set(queryId, { path, args, callback });
    this.modify([{ type: "Add", queryId, udfPath: path, args: [args] }]);
    return () => {
      this.queries.delete(queryId);
      this.modify([{ type: "Remove", queryId }]);
    };
  }

  /**
   * Run a mutation; it is sent again after a reconnect until it is answered.
   * @template T
   * @param {string} path
   * @param {object} args
   * @returns {Promise<T>}
   */
  mutation(path, args) {
    const requestId = this.requestId++;
    const message = { type: "Mutation", requestId, udfPath: path, args: [args] };
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject, message });
      this.send(message);
    });
  }

  /** @param {any} message a server message, parsed */
  receive(message) {
    if (message.type === "Transition") {
      for (const mod of message.modifications) {
        const query = this.queries.get(mod.queryId);
        if (!query) continue;
        if (mod.type === "QueryUpdated") query.callback(decode(mod.value), null);
        if (mod.type === "QueryFailed") query.callback(null, mod.errorMessage);
      }
    } else if (message.type === "MutationResponse") {
      const pending = this.waiting.get(message.requestId);
      if (!pending) return;
      this.waiting.delete(message.requestId);
      if (message.success) pending.resolve(decode(message.result));
      else pending.reject(new Error(message.result));
    } else if (message.type === "AuthError") {
      console.error("smalltown: sign-in refused:", message.error);
      this.token = null;
      localStorage.removeItem("smalltown.token");
    } else if (message.type === "FatalError") {
      console.error("smalltown:", message.error);
    }
  }
}
