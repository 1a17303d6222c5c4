// The town page: a world's map with pan and zoom, its people walking smoothly along their
// paths, what they say, who they are and what they remember, playing as a person, and
// banners saying what is wrong and how to fix it.
import { SyncClient } from "/sync.js";
import { Camera } from "/camera.js";
import { MapPainter } from "/painter.js";
import { renderDetails } from "/details.js";

const canvas = document.getElementById("map");
const ctx = canvas.getContext("2d");
const banners = document.getElementById("banners");
const connection = document.getElementById("connection");
const worldSelect = document.getElementById("world-select");
const TILE = 32;
const SHOW_WORDS_MS = 8000;

// What the tests (and curious people) can read from the console.
const state = {
  connected: false, drawnPlayers: 0, worlds: null, status: null, world: null, roster: null,
  conversations: null,
  clock: null, descriptions: null, map: null, llm: null, said: new Map(), selected: null,
  details: null, following: false, me: null,
  identifier: localStorage.getItem("smalltown.identifier"), transcripts: new Map(),
  adminKey: sessionStorage.getItem("smalltown.adminKey"),
};
window.smalltown = state;

const client = new SyncClient((up) => {
  state.connected = up;
  connection.textContent = up ? "live" : "reconnecting…";
  connection.className = up ? "pill ok" : "pill";
});
state.subscriptions = () => [...client.queries.values()].map((q) => q.path);

const saved = localStorage.getItem("smalltown.token");
if (saved) client.setAuth(saved);  // a reload resumes the same player

const camera = new Camera(canvas, onMapClick);
const painter = new MapPainter();
state.camera = camera;
state.positionOf = (playerId) => {
  const player = state.world && state.world.players.find((p) => p.id === playerId);
  return player ? position(player) : null;
};
state.tileToClient = (x, y) => camera.toClient((x + 0.5) * TILE, (y + 0.5) * TILE);
state.select = (playerId) => select(playerId);
state.spriteCount = () => painter.sprites.length;
state.spriteFramesShown = () => painter.framesShown;

// An admin key given as #admin=KEY is kept for this tab only and taken out of the address.
function readAdminKey() {
  if (!location.hash.startsWith("#admin=")) return;
  state.adminKey = decodeURIComponent(location.hash.slice("#admin=".length));
  sessionStorage.setItem("smalltown.adminKey", state.adminKey);
  history.replaceState(null, "", location.pathname + location.search);
  renderAdmin();
}
window.addEventListener("hashchange", readAdminKey);

// --- Which world -----------------------------------------------------------------------

function wantedWorld() {
  return new URLSearchParams(location.search).get("world");
}

client.subscribe("world:listWorlds", {}, (worlds) => {
  if (!worlds) return;
  state.worlds = worlds;
  const wanted = wantedWorld();
  const chosen = worlds.find((w) => w.worldId === (state.status || {}).worldId)
    || worlds.find((w) => w.worldId === wanted)
    || worlds.find((w) => w.isDefault) || worlds[0] || null;
  renderWorldSelect();
  showWorld(chosen);
});

worldSelect.addEventListener("change", () => {
  const chosen = state.worlds.find((w) => w.worldId === worldSelect.value);
  const url = new URL(location.href);
  url.searchParams.set("world", chosen.worldId);
  history.replaceState(null, "", url);
  showWorld(chosen);
});

function renderWorldSelect() {
  const worlds = state.worlds || [];
  worldSelect.hidden = worlds.length < 2;
  worldSelect.replaceChildren(...worlds.map((w, i) => {
    const option = document.createElement("option");
    option.value = w.worldId;
    option.textContent = `World ${i + 1}${w.isDefault ? " (default)" : ""}` +
      (w.status === "running" ? "" : ` — ${w.status === "inactive" ? "asleep" : "frozen"}`);
    return option;
  }));
  if (state.status) worldSelect.value = state.status.worldId;
}

let worldSubscriptions = [];
readAdminKey();
let conversationSubscriptions = new Map();
let detailsSubscription = null;
// One small live query per player: only the players that set off or stop are sent again.
let playerSubscriptions = new Map();
const playerViews = new Map();

function followPlayers(worldId) {
  const here = new Set(state.roster.players.map((p) => p.id));
  for (const [id, stop] of playerSubscriptions) {
    if (!here.has(id)) { stop(); playerSubscriptions.delete(id); playerViews.delete(id); }
  }
  for (const id of here) {
    if (playerSubscriptions.has(id)) continue;
    playerSubscriptions.set(id, client.subscribe("world:playerView", { worldId, playerId: id },
      (view) => {
        if (!view) return;
        playerViews.set(id, view);
        rebuildWorld();
        if (id === state.selected) showDetails();
      }));
  }
}

// The world as the rest of the page reads it: the roster with each player's latest view.
function rebuildWorld() {
  const roster = state.roster;
  if (!roster || !state.conversations) return;
  state.world = {
    players: roster.players.map((p) => playerViews.get(p.id)).filter(Boolean),
    agents: roster.agents,
    conversations: state.conversations,
  };
}

function showWorld(status) {
  const changed = (status && status.worldId) !== (state.status && state.status.worldId);
  state.status = status;
  renderBanners();
  renderAdmin();
  if (!changed) return;
  worldSubscriptions.forEach((stop) => stop());
  conversationSubscriptions.forEach((stop) => stop());
  conversationSubscriptions = new Map();
  playerSubscriptions.forEach((stop) => stop());
  playerSubscriptions = new Map();
  playerViews.clear();
  Object.assign(state, { world: null, roster: null, conversations: null, clock: null,
                         descriptions: null, map: null, me: null, details: null,
                         following: false, selected: null });
  state.transcripts.clear();
  state.said.clear();
  select(null);
  if (!status) return;
  const worldId = status.worldId;
  worldSubscriptions = [
    client.subscribe("world:worldRoster", { worldId }, (roster) => {
      if (!roster) return;
      state.roster = roster;
      const mine = state.identifier
        ? roster.players.find((p) => p.human === state.identifier) : null;
      state.me = mine ? mine.id : null;
      followPlayers(worldId);
      rebuildWorld();
      renderPlaying();
      renderTalk();
      showDetails();
    }),
    client.subscribe("world:worldConversations", { worldId }, (conversations) => {
      if (!conversations) return;
      state.conversations = conversations;
      rebuildWorld();
      followConversations();
      renderTalk();
      showDetails();
    }),
    client.subscribe("world:worldClock", { worldId }, (value) => {
      if (value) tick(value.currentTime);
    }),
    client.subscribe("world:gameDescriptions", { worldId }, (value) => {
      if (!value) return;
      state.descriptions = value;
      state.map = value.worldMap;
      painter.setMap(state.map);
      camera.setWorld(state.map.width * TILE, state.map.height * TILE);
      renderPlaying();
      showDetails();
    }),
  ];
  heartbeat();
}

// --- The game clock ----------------------------------------------------------------------
// The server sends the game time of each step; between steps the page runs its own clock at
// the rate the game has been advancing (faster than the wall clock when time is scaled).

function tick(currentTime) {
  const now = performance.now();
  const last = state.clock;
  let rate = last ? last.rate : 1;
  if (last && now > last.received && currentTime > last.currentTime) {
    const seen = (currentTime - last.currentTime) / (now - last.received);
    rate = Math.min(100, Math.max(0.1, 0.7 * rate + 0.3 * seen));
  }
  state.clock = { currentTime, received: now, rate };
}

function gameNow() {
  const clock = state.clock;
  if (!clock) return 0;
  const elapsed = Math.min(performance.now() - clock.received, 3000);
  return clock.currentTime + elapsed * clock.rate;
}

function heartbeat() {
  if (state.status) client.mutation("world:heartbeatWorld", { worldId: state.status.worldId })
    .catch(() => {});
}
setInterval(heartbeat, 60000);

async function loadHealth() {
  try {
    const health = await (await fetch("/health")).json();
    state.llm = health.app ? health.app.llm : null;
    state.embedder = health.app ? health.app.embedder : null;
  } catch (error) {
    state.llm = null;
    state.embedder = null;
  }
  document.getElementById("minds").textContent = state.llm
    ? `Words: ${state.llm}. Memories: ${state.embedder || "unknown"}.` : "";
  renderBanners();
}
loadHealth();
setInterval(loadHealth, 30000);

function followConversations() {
  const live = new Set(state.world.conversations.map((c) => c.id));
  for (const [id, stop] of conversationSubscriptions) {
    if (!live.has(id)) { stop(); conversationSubscriptions.delete(id); }
  }
  for (const id of live) {
    if (conversationSubscriptions.has(id)) continue;
    conversationSubscriptions.set(id, client.subscribe(
      "messages:conversationLines", { worldId: state.status.worldId, conversationId: id },
      (messages) => {
        if (!messages) return;
        state.transcripts.set(id, messages);
        renderTalk();
        showDetails();
        if (!messages.length) return;
        const last = messages[messages.length - 1];
        state.said.set(last.author, { text: last.text, at: performance.now() });
      }));
  }
}

// --- Banners and admin -------------------------------------------------------------------

function renderBanners() {
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
  banners.replaceChildren(...items.map(([kind, text]) => {
    const div = document.createElement("div");
    div.className = `banner-${kind}`;
    div.textContent = text;
    return div;
  }));
}

function renderAdmin() {
  const admin = document.getElementById("admin");
  admin.hidden = !state.adminKey || !state.status;
  if (admin.hidden) return;
  const running = state.status.status === "running";
  document.getElementById("freeze").hidden = !running;
  document.getElementById("resume").hidden = running;
}

async function adminCall(path) {
  const response = await fetch("/api/mutation", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Convex ${state.adminKey}` },
    body: JSON.stringify({ path, args: { worldId: state.status.worldId }, format: "json" }),
  });
  const body = await response.json().catch(() => ({}));
  if (body.status !== "success") {
    showError(`${path}: ${body.errorMessage || body.message || response.statusText}`);
  }
}
document.getElementById("freeze").addEventListener("click", () => adminCall("testing:stop"));
document.getElementById("resume").addEventListener("click", () => adminCall("testing:resume"));

// --- Drawing -----------------------------------------------------------------------------

function describe(playerId) {
  const d = state.descriptions;
  return d ? d.playerDescriptions.find((p) => p.playerId === playerId) : null;
}

// Where a player is now: along its timed path while walking, so motion is smooth between
// updates; where the server put it otherwise.
function position(player) {
  const path = player.path;
  if (!path) return { x: player.position.x, y: player.position.y, facing: player.facing };
  const now = gameNow();
  if (now <= path[0][4]) {
    return { x: path[0][0], y: path[0][1], facing: { dx: path[0][2], dy: path[0][3] } };
  }
  for (let i = 1; i < path.length; i++) {
    const [x0, y0, dx, dy, t0] = path[i - 1];
    const [x1, y1, , , t1] = path[i];
    if (now < t1) {
      const f = (now - t0) / (t1 - t0);
      return { x: x0 + (x1 - x0) * f, y: y0 + (y1 - y0) * f, facing: { dx, dy }, moving: true };
    }
  }
  const last = path[path.length - 1];
  return { x: last[0], y: last[1], facing: { dx: last[2], dy: last[3] } };
}

function draw() {
  requestAnimationFrame(draw);
  camera.resize();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#10151d";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!state.map || !state.world) return;
  const now = performance.now();
  camera.apply(ctx);
  ctx.imageSmoothingEnabled = false;
  painter.draw(ctx, now);
  const people = painter.image("/assets/characters.png");
  const placed = state.world.players.map((player) => ({ player, at: position(player) }))
    .sort((a, b) => a.at.y - b.at.y);
  if (state.following && state.selected) {
    const followed = placed.find((p) => p.player.id === state.selected);
    if (followed) camera.centerOn((followed.at.x + 0.5) * TILE, (followed.at.y + 0.5) * TILE);
  }
  for (const { player, at } of placed) {
    const desc = describe(player.id);
    const column = desc ? (parseInt(String(desc.character).replace(/\D/g, ""), 10) || 1) - 1 : 0;
    const facing = at.facing || { dx: 0, dy: 1 };
    const row = facing.dy > 0 ? 0 : facing.dx < 0 ? 1 : facing.dx > 0 ? 2 : 3;
    const frame = at.moving ? Math.floor(now / 150) % 3 : 1;
    if (player.id === state.selected) {
      ctx.strokeStyle = "#ffe27a";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.ellipse((at.x + 0.5) * TILE, (at.y + 0.95) * TILE, 12, 5, 0, 0, Math.PI * 2);
      ctx.stroke();
    }
    if (people.complete && people.naturalWidth) {
      ctx.drawImage(people, ((column % 5) * 3 + frame) * TILE, row * TILE, TILE, TILE,
                    at.x * TILE, at.y * TILE, TILE, TILE);
    }
  }
  // Words and names at a readable size whatever the zoom.
  ctx.setTransform(window.devicePixelRatio || 1, 0, 0, window.devicePixelRatio || 1, 0, 0);
  const rect = canvas.getBoundingClientRect();
  const typing = new Set(state.world.conversations
    .filter((c) => c.isTyping).map((c) => c.isTyping.playerId));
  const gameTime = gameNow();
  for (const { player, at } of placed) {
    const screen = camera.toClient((at.x + 0.5) * TILE, at.y * TILE);
    const sx = screen.x - rect.left;
    const sy = screen.y - rect.top;
    const desc = describe(player.id);
    const emoji = player.activity && player.activity.until > gameTime
      ? ` ${player.activity.emoji || ""}` : "";
    label((desc ? desc.name : player.id) + emoji, sx, sy - 2, player.id === state.selected);
    const said = state.said.get(player.id);
    if (typing.has(player.id)) bubble("…", sx, sy - 16);
    else if (said && now - said.at < SHOW_WORDS_MS) bubble(said.text, sx, sy - 16);
  }
  state.drawnPlayers = placed.length;
}
requestAnimationFrame(draw);

function label(text, x, y, highlighted) {
  ctx.font = "bold 11px system-ui";
  ctx.textAlign = "center";
  ctx.lineWidth = 3;
  ctx.strokeStyle = "rgba(0,0,0,0.7)";
  ctx.strokeText(text, x, y);
  ctx.fillStyle = highlighted ? "#ffe27a" : "#fff";
  ctx.fillText(text, x, y);
}

function bubble(text, x, y) {
  const shown = text.length > 60 ? `${text.slice(0, 57)}…` : text;
  ctx.font = "12px system-ui";
  ctx.textAlign = "center";
  const width = ctx.measureText(shown).width + 12;
  ctx.fillStyle = "rgba(255,255,255,0.94)";
  ctx.beginPath();
  ctx.roundRect(x - width / 2, y - 17, width, 19, 6);
  ctx.fill();
  ctx.fillStyle = "#222";
  ctx.fillText(shown, x, y - 3);
}

// --- Clicking, walking, following --------------------------------------------------------

function onMapClick(point) {
  if (!state.world) return;
  const x = point.x / TILE;
  const y = point.y / TILE;
  let best = null;
  for (const player of state.world.players) {
    const at = position(player);
    const distance = Math.hypot(at.x + 0.5 - x, at.y + 0.5 - y);
    if (distance < 0.8 && (!best || distance < best.distance)) best = { player, distance };
  }
  if (best) {
    select(best.player.id);
  } else if (state.me) {  // an empty tile: walk there
    sendInput("moveTo", { playerId: state.me,
                          destination: { x: Math.floor(x), y: Math.floor(y) } });
  } else {
    select(null);
  }
}

function select(playerId) {
  if (playerId === state.selected && detailsSubscription) return;
  state.selected = playerId;
  state.following = false;
  state.details = null;
  if (detailsSubscription) detailsSubscription();
  detailsSubscription = null;
  if (playerId && state.status) {
    detailsSubscription = client.subscribe(
      "world:playerDetails", { worldId: state.status.worldId, playerId },
      (value) => { state.details = value; showDetails(); });
  }
  showDetails();
}

document.getElementById("zoom-in").addEventListener("click", () => camera.zoom(1.25));
document.getElementById("zoom-out").addEventListener("click", () => camera.zoom(0.8));
document.getElementById("zoom-fit").addEventListener("click", () => {
  state.following = false;
  camera.fit();
});
window.addEventListener("keydown", (event) => {
  if (event.target.closest("input, select, textarea")) return;
  if (event.key === "+" || event.key === "=") camera.zoom(1.25);
  if (event.key === "-") camera.zoom(0.8);
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

function showDetails() {
  renderDetails(state, {
    describe,
    invite: () => sendInput("startConversation", { playerId: state.me, invitee: state.selected }),
    follow: () => { state.following = !state.following; showDetails(); },
  });
}

// --- Playing -----------------------------------------------------------------------------

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
