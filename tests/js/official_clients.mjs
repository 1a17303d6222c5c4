// Drives the official `convex` npm clients against a smalltown server.
// Usage: node official_clients.mjs http://127.0.0.1:PORT
// Prints one JSON line per step; exits 0 only if every step passed.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import { ConvexError } from "convex/values";
import WebSocket from "ws";

const url = process.argv[2];
const api = anyApi;
const channel = `c${Date.now()}`;

function step(name, detail = {}) {
  console.log(JSON.stringify({ step: name, ok: true, ...detail }));
}

function waitFor(predicate, what, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (predicate()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

async function main() {
  const http = new ConvexHttpClient(url);
  const before = await http.query(api.messages.count, { channel });
  if (before !== 0) throw new Error(`expected an empty channel, got ${before}`);
  const id = await http.mutation(api.messages.send, { channel, author: "http", body: "hello" });
  if (typeof id !== "string" || id.length !== 32) throw new Error(`bad id ${id}`);
  const listed = await http.query(api.messages.list, { channel });
  if (listed.length !== 1 || listed[0].body !== "hello") throw new Error(JSON.stringify(listed));
  step("http query and mutation", { id });

  try {
    await http.mutation(api.messages.send, { channel, author: "http", body: " " });
    throw new Error("a blank message was accepted");
  } catch (error) {
    if (!(error instanceof ConvexError) || error.data.code !== "empty") throw error;
  }
  step("http ConvexError carries data");

  const client = new ConvexClient(url, { webSocketConstructor: WebSocket });
  let latest = null;
  const unsubscribe = client.onUpdate(api.messages.list, { channel }, (value) => {
    latest = value;
  });
  await waitFor(() => latest !== null && latest.length === 1, "the first result");
  step("websocket subscription delivers the current value");

  await http.mutation(api.messages.send, { channel, author: "other", body: "from afar" });
  await waitFor(() => latest.length === 2 && latest[1].body === "from afar", "another client's write");
  step("websocket subscription sees another client's mutation");

  const own = await client.mutation(api.messages.send, { channel, author: "ws", body: "mine" });
  if (typeof own !== "string") throw new Error(`bad id ${own}`);
  await waitFor(() => latest.length === 3, "its own write");
  step("websocket mutation promise resolves and its write arrives");

  const count = await client.query(api.messages.count, { channel });
  if (count !== 3) throw new Error(`one-shot query gave ${count}`);
  const shouted = await client.action(api.values.shout, { channel });
  if (shouted !== 4) throw new Error(`action gave ${shouted}`);
  step("websocket one-shot query and action");

  try {
    await client.mutation(api.messages.send, { channel, author: "ws", body: "  " });
    throw new Error("a blank message was accepted");
  } catch (error) {
    if (!(error instanceof ConvexError) || error.data.code !== "empty") throw error;
  }
  step("websocket ConvexError carries data");

  unsubscribe();
  await client.close();
}

const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: "timed out after 60 s" }));
  process.exit(1);
}, 60000);

main()
  .then(() => {
    clearTimeout(watchdog);
    process.exit(0);
  })
  .catch((error) => {
    console.log(JSON.stringify({ ok: false, error: String(error && error.stack || error) }));
    process.exit(1);
  });
