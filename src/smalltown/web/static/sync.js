// A small client for Convex's sync protocol: subscribe to queries, call mutations,
// reconnect with back-off and resubscribe. It talks only through public functions.

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
    const out = {};
    for (const key of keys) out[key] = decode(value[key]);
    return out;
  }
  return value;
}

export class SyncClient {
  constructor(onStatus = () => {}) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = `${scheme}://${location.host}/api/sync`;
    this.onStatus = onStatus;
    this.queries = new Map(); // queryId -> {path, args, callback}
    this.nextQueryId = 0;
    this.querySet = 0;
    this.requestId = 0;
    this.waiting = new Map(); // requestId -> {resolve, reject, message}
    this.backoff = 250;
    this.token = null;
    this.identity = 0;
    this.open();
  }

  // Act as the holder of a user token (null: nobody), now and after every reconnect.
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
    this.ws = new WebSocket(this.url);
    this.ws.onopen = () => {
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
    this.ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    this.ws.onclose = () => {
      this.onStatus(false);
      setTimeout(() => this.open(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  send(message) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  modify(modifications) {
    const base = this.querySet;
    this.querySet += 1;
    this.send({ type: "ModifyQuerySet", baseVersion: base, newVersion: this.querySet,
                modifications });
  }

  subscribe(path, args, callback) {
    const queryId = this.nextQueryId++;
    this.queries.set(queryId, { path, args, callback });
    this.modify([{ type: "Add", queryId, udfPath: path, args: [args] }]);
    return () => {
      this.queries.delete(queryId);
      this.modify([{ type: "Remove", queryId }]);
    };
  }

  mutation(path, args) {
    const requestId = this.requestId++;
    const message = { type: "Mutation", requestId, udfPath: path, args: [args] };
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject, message });
      this.send(message);
    });
  }

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
