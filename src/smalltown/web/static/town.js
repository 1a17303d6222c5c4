// The town page: the default world's map, its people walking smoothly along their paths,
// their names, what they last said, and banners saying what is wrong and how to fix it.
import { SyncClient } from "/sync.js";

const canvas = document.getElementById("map");
const ctx = canvas.getContext("2d");
const banners = document.getElementById("banners");
const details = document.getElementById("details");
const connection = document.getElementById("connection");
const TILE = 32;
const SHOW_WORDS_MS = 8000;

// What the tests (and curious people) can read from the console.
const state = { connected: false, drawnPlayers: 0, status: null, world: null, engine: null,
                descriptions: null, map: null, llm: null, said: new Map(), selected: null,
                received: 0, me: null, identifier: localStorage.getItem("smalltown.identifier"),
                transcripts: new Map() };
window.smalltown = state;
state.select = (playerId) => { state.selected = playerId; renderDetails(); };

const images = {};
function image(url) {
  if (!images[url]) {
    images[url] = new Image();
    images[url].src = url;
  }
  return images[url];
}

const client = new SyncClient((up) => {
  state.connected = up;
  connection.textContent = up ? "live" : "reconnecting…";
  connection.className = up ? "pill ok" : "pill";
});

const saved = localStorage.getItem("smalltown.token");
if (saved) client.setAuth(saved);  // a reload resumes the same player

let worldSubscriptions = [];
let conversationSubscriptions = new Map();

client.subscribe("world:defaultWorldStatus", {}, (status) => {
  const changed = !state.status || (status && status.worldId !== state.status.worldId);
  state.status = status;
  renderBanners();
  if (!status || !changed) return;
  worldSubscriptions.forEach((stop) => stop());
  worldSubscriptions = [
    client.subscribe("world:worldState", { worldId: status.worldId }, (value) => {
      if (!value) return;
      state.world = value.world;
      state.engine = value.engine;
      state.received = performance.now();
      const mine = state.identifier
        ? value.world.players.find((p) => p.human === state.identifier) : null;
      state.me = mine ? mine.id : null;
      renderPlaying();
      followConversations();
      renderTalk();
      renderDetails();
    }),
    client.subscribe("world:gameDescriptions", { worldId: status.worldId }, (value) => {
      if (!value) return;
      state.descriptions = value;
      state.map = value.worldMap;
      canvas.width = state.map.width * TILE;
      canvas.height = state.map.height * TILE;
      renderPlaying();
      renderDetails();
    }),
  ];
  heartbeat();
});

function heartbeat() {
  if (state.status) client.mutation("world:heartbeatWorld", { worldId: state.status.worldId })
    .catch(() => {});
}
setInterval(heartbeat, 60000);

async function loadHealth() {
  try {
    const health = await (await fetch("/health")).json();
    state.llm = health.app ? health.app.llm : null;
  } catch (error) {
    state.llm = null;
  }
  renderBanners();
}
loadHealth();
setInterval(loadHealth, 30000);

function followConversations() {
  const live = new Set((state.world.conversations || []).map((c) => c.id));
  for (const [id, stop] of conversationSubscriptions) {
    if (!live.has(id)) { stop(); conversationSubscriptions.delete(id); }
  }
  for (const id of live) {
    if (conversationSubscriptions.has(id)) continue;
    conversationSubscriptions.set(id, client.subscribe(
      "messages:listMessages", { worldId: state.status.worldId, conversationId: id },
      (messages) => {
        if (!messages) return;
        state.transcripts.set(id, messages);
        renderTalk();
        if (!messages.length) return;
        const last = messages[messages.length - 1];
        state.said.set(last.author, { text: last.text, at: performance.now() });
      }));
  }
}

function renderBanners() {
  const items = [];
  const status = state.status;
  if (status && status.smalltownLlmError) {
    items.push(["error", `The characters cannot speak: ${status.smalltownLlmError}`]);
  } else if (state.llm && state.llm.startsWith("offline")) {
    items.push(["info", "No LLM is configured, so the characters talk from templates (the " +
      "offline brain). Set OPENAI_API_KEY, LLM_API_URL or OLLAMA_HOST and restart for real " +
      "conversations."]);
  }
  if (status && status.status !== "running") {
    items.push(["warn", status.status === "inactive"
      ? "This world is asleep: nobody watched it for 5 minutes. Watching wakes it."
      : "This world is stopped by its admin."]);
  }
  banners.replaceChildren(...items.map(([kind, text]) => {
    const div = document.createElement("div");
    div.className = `banner-${kind}`;
    div.textContent = text;
    return div;
  }));
}

function describe(playerId) {
  const d = state.descriptions;
  return d ? d.playerDescriptions.find((p) => p.playerId === playerId) : null;
}

// Where a player is now: along its timed path, one step behind the server, as AI Town's
// client does, so motion is smooth between updates and never jumps at normal speed.
function position(player) {
  const path = player.pathfinding && player.pathfinding.state.kind === "moving"
    ? player.pathfinding.state.path : null;
  if (!path || !state.engine) return { ...player.position, moving: false };
  const gameNow = state.engine.currentTime + (performance.now() - state.received) - 1000;
  if (gameNow <= path[0][4]) return { x: path[0][0], y: path[0][1], moving: false };
  for (let i = 1; i < path.length; i++) {
    const [x0, y0, dx, dy, t0] = path[i - 1];
    const [x1, y1, , , t1] = path[i];
    if (gameNow < t1) {
      const f = (gameNow - t0) / (t1 - t0);
      return { x: x0 + (x1 - x0) * f, y: y0 + (y1 - y0) * f, dx, dy, moving: true };
    }
  }
  const last = path[path.length - 1];
  return { x: last[0], y: last[1], moving: false };
}

function drawTile(sheet, index, x, y, columns) {
  if (index < 0) return;
  const sx = (index % columns) * TILE;
  const sy = Math.floor(index / columns) * TILE;
  ctx.drawImage(sheet, sx, sy, TILE, TILE, x * TILE, y * TILE, TILE, TILE);
}

function draw() {
  requestAnimationFrame(draw);
  const map = state.map;
  if (!map || !state.world) return;
  const sheet = image(map.tileSetUrl);
  const columns = Math.max(1, Math.floor(map.tileSetDimX / map.tileDim));
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (sheet.complete && sheet.naturalWidth) {
    for (const layer of [...map.bgTiles, ...map.objectTiles]) {
      for (let x = 0; x < map.width; x++) {
        for (let y = 0; y < map.height; y++) drawTile(sheet, layer[x][y], x, y, columns);
      }
    }
  }
  const people = image("/assets/characters.png");
  let drawn = 0;
  const now = performance.now();
  for (const player of state.world.players) {
    const at = position(player);
    const facing = at.moving ? { dx: at.dx, dy: at.dy } : player.facing;
    const desc = describe(player.id);
    const column = desc ? (parseInt(String(desc.character).replace(/\D/g, ""), 10) || 1) - 1 : 0;
    const row = facing.dy > 0 ? 0 : facing.dx < 0 ? 1 : facing.dx > 0 ? 2 : 3;
    const frame = at.moving ? Math.floor(now / 150) % 3 : 1;
    const px = at.x * TILE;
    const py = at.y * TILE;
    if (people.complete && people.naturalWidth) {
      ctx.drawImage(people, ((column % 5) * 3 + frame) * TILE, row * TILE, TILE, TILE,
                    px, py, TILE, TILE);
    }
    ctx.font = "11px system-ui";
    ctx.textAlign = "center";
    ctx.fillStyle = player.id === state.selected ? "#ffe27a" : "#fff";
    const emoji = player.activity && player.activity.until > state.engine.currentTime
      ? ` ${player.activity.emoji || ""}` : "";
    ctx.fillText((desc ? desc.name : player.id) + emoji, px + TILE / 2, py - 2);
    const said = state.said.get(player.id);
    if (said && now - said.at < SHOW_WORDS_MS) bubble(said.text, px + TILE / 2, py - 14);
    drawn += 1;
  }
  state.drawnPlayers = drawn;
}
requestAnimationFrame(draw);

function bubble(text, x, y) {
  const shown = text.length > 60 ? `${text.slice(0, 57)}…` : text;
  ctx.font = "12px system-ui";
  const width = ctx.measureText(shown).width + 10;
  ctx.fillStyle = "rgba(255,255,255,0.92)";
  ctx.fillRect(x - width / 2, y - 16, width, 18);
  ctx.fillStyle = "#222";
  ctx.fillText(shown, x, y - 3);
}

canvas.addEventListener("click", (event) => {
  if (!state.world) return;
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) / rect.width) * canvas.width / TILE;
  const y = ((event.clientY - rect.top) / rect.height) * canvas.height / TILE;
  let best = null;
  for (const player of state.world.players) {
    const at = position(player);
    const distance = Math.hypot(at.x + 0.5 - x, at.y + 0.5 - y);
    if (distance < 1.2 && (!best || distance < best.distance)) best = { player, distance };
  }
  if (!best && state.me) {  // an empty tile: walk there
    sendInput("moveTo", { playerId: state.me,
                          destination: { x: Math.floor(x), y: Math.floor(y) } });
    return;
  }
  state.selected = best ? best.player.id : null;
  renderDetails();
});

function sendInput(name, args) {
  return client.mutation("world:sendWorldInput", { engineId: state.status.engineId, name, args })
    .catch((error) => showError(error.message));
}

function showError(message) {
  const div = document.createElement("div");
  div.className = "banner-error";
  div.textContent = message;
  banners.append(div);
  setTimeout(() => div.remove(), 8000);
}

document.getElementById("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!state.status) return;
  try {
    const joined = await client.mutation("world:joinWorld", {
      worldId: state.status.worldId,
      name: document.getElementById("name").value,
      character: document.getElementById("character").value,
    });
    localStorage.setItem("smalltown.token", joined.token);
    localStorage.setItem("smalltown.identifier", joined.tokenIdentifier);
    state.identifier = joined.tokenIdentifier;
    client.setAuth(joined.token);
  } catch (error) {
    showError(error.message);
  }
});

document.getElementById("leave").addEventListener("click", async () => {
  await client.mutation("world:leaveWorld", { worldId: state.status.worldId })
    .catch((error) => showError(error.message));
  localStorage.removeItem("smalltown.token");
  localStorage.removeItem("smalltown.identifier");
  state.identifier = null;
  client.setAuth(null);
});

function myConversation() {
  if (!state.me || !state.world) return null;
  return state.world.conversations.find((c) => c.participants.some((p) => p.playerId === state.me));
}

let typingSent = null;

function renderTalk() {
  const talk = document.getElementById("talk");
  const conversation = myConversation();
  talk.hidden = !conversation;
  if (!conversation) return;
  const mine = conversation.participants.find((p) => p.playerId === state.me);
  const other = conversation.participants.find((p) => p.playerId !== state.me);
  const otherName = other ? (describe(other.playerId) || {}).name || other.playerId : "someone";
  const kind = mine.status.kind;
  const typing = conversation.isTyping && conversation.isTyping.playerId !== state.me
    ? ` ${otherName} is typing…` : "";
  document.getElementById("talk-state").textContent = {
    invited: `${otherName} invites you to talk.`,
    walkingOver: `Walking over to ${otherName}…`,
    participating: `Talking with ${otherName}.${typing}`,
  }[kind];
  document.getElementById("accept").hidden = kind !== "invited";
  document.getElementById("reject").hidden = kind !== "invited";
  document.getElementById("say").hidden = kind !== "participating";
  const lines = state.transcripts.get(conversation.id) || [];
  document.getElementById("transcript").replaceChildren(...lines.map((m) => {
    const li = document.createElement("li");
    li.textContent = `${m.authorName}: ${m.text}`;
    return li;
  }));
}

function conversationArgs() {
  const conversation = myConversation();
  return conversation ? { playerId: state.me, conversationId: conversation.id } : null;
}

document.getElementById("accept").addEventListener("click", () => {
  const args = conversationArgs();
  if (args) sendInput("acceptInvite", args);
});
document.getElementById("reject").addEventListener("click", () => {
  const args = conversationArgs();
  if (args) sendInput("rejectInvite", args);
});
document.getElementById("goodbye").addEventListener("click", () => {
  const args = conversationArgs();
  if (args) sendInput("leaveConversation", args);
});
document.getElementById("message").addEventListener("input", () => {
  const args = conversationArgs();
  if (!args || typingSent === args.conversationId) return;
  typingSent = args.conversationId;  // others see "typing…" while we write
  state.typingUuid = crypto.randomUUID();
  sendInput("startTyping", { ...args, messageUuid: state.typingUuid });
});
document.getElementById("say").addEventListener("submit", async (event) => {
  event.preventDefault();
  const args = conversationArgs();
  const input = document.getElementById("message");
  const text = input.value.trim();
  if (!args || !text) return;
  const messageUuid = state.typingUuid || crypto.randomUUID();
  typingSent = null;
  state.typingUuid = null;
  input.value = "";
  try {
    await client.mutation("messages:writeMessage", {
      worldId: state.status.worldId, conversationId: args.conversationId, messageUuid,
      playerId: state.me, text });
  } catch (error) {
    showError(error.message);
  }
});

function renderPlaying() {
  const playing = Boolean(state.me);
  document.getElementById("join").hidden = playing;
  document.getElementById("playing").hidden = !playing;
  if (playing) {
    const desc = describe(state.me);
    document.getElementById("me-name").textContent = desc ? desc.name : state.me;
  }
}

function renderDetails() {
  if (!state.selected || !state.world) return;
  const desc = describe(state.selected);
  const agent = state.world.agents.find((a) => a.playerId === state.selected);
  const agentDesc = agent && state.descriptions
    ? state.descriptions.agentDescriptions.find((a) => a.agentId === agent.id) : null;
  const conversation = state.world.conversations.find(
    (c) => c.participants.some((p) => p.playerId === state.selected));
  const parts = [`<h2>${escape(desc ? desc.name : state.selected)}</h2>`];
  if (agentDesc) parts.push(`<p>${escape(agentDesc.identity)}</p><p><em>${escape(agentDesc.plan)}</em></p>`);
  else if (desc && desc.description) parts.push(`<p>${escape(desc.description)}</p>`);
  if (state.me && state.selected !== state.me && !conversation) {
    parts.push('<button id="invite" type="button">Invite to talk</button>');
  }
  if (conversation) {
    const other = conversation.participants.find((p) => p.playerId !== state.selected);
    const otherDesc = other ? describe(other.playerId) : null;
    parts.push(`<p>In a conversation with ${escape(otherDesc ? otherDesc.name : "someone")} ` +
               `(${conversation.numMessages} messages).</p>`);
  }
  details.innerHTML = parts.join("");
  const invite = document.getElementById("invite");
  if (invite) {
    invite.onclick = () => sendInput("startConversation",
                                     { playerId: state.me, invitee: state.selected });
  }
}

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
                                                   '"': "&quot;" })[c]);
}
