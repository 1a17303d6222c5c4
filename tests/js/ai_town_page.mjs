// Plays the calls AI Town's page makes, with the official `convex` client and no auth,
// against a smalltown town: two browsers (two clients, two sessions) join, walk, invite,
// and may act only for their own player; neither may act for a player joined with a
// token, nor reach the admin's functions.
// Usage: node ai_town_page.mjs http://127.0.0.1:PORT TOKEN_PLAYER_ID
// Prints one JSON line per step; exits 0 only if every step passed.
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { ConvexError } from "convex/values";
import WebSocket from "ws";

const url = process.argv[2];
const tokenPlayer = process.argv[3];
const api = anyApi;

function step(name, detail = {}) {
  console.log(JSON.stringify({ step: name, ok: true, ...detail }));
}

function watch(client, query, args) {
  const box = { value: undefined };
  box.stop = client.onUpdate(query, args, (value) => {
    box.value = value;
  });
  return box;
}

function until(predicate, what, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      let value;
      try {
        value = predicate();
      } catch (error) {
        clearInterval(timer);
        reject(error);
        return;
      }
      if (value) {
        clearInterval(timer);
        resolve(value);
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}

// AI Town's waitForInput: watch aiTown/main:inputStatus until it is not null.
async function waitForInput(client, inputId) {
  const status = watch(client, api.aiTown.main.inputStatus, { inputId });
  const result = await until(() => status.value, `input ${inputId}`);
  status.stop();
  if (result.kind === "error") throw new Error(result.message);
  return result.value;
}

async function refused(promise, what) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConvexError || /Could not find|not yours|admin/.test(String(error))) {
      return String(error instanceof ConvexError ? error.data : error.message);
    }
    throw error;
  }
  throw new Error(`${what} was allowed`);
}

async function main() {
  const a = new ConvexClient(url, { webSocketConstructor: WebSocket });
  const b = new ConvexClient(url, { webSocketConstructor: WebSocket });
  const status = await a.query(api.world.defaultWorldStatus, {});
  const worldId = status.worldId;
  const engineId = status.engineId;

  const meA = watch(a, api.world.userStatus, { worldId });
  const meB = watch(b, api.world.userStatus, { worldId });
  await until(() => meA.value && meB.value, "both browsers' userStatus");
  if (meA.value === meB.value) throw new Error(`both browsers are ${meA.value}`);
  step("each browser is somebody of its own", { a: meA.value, b: meB.value });

  const joinA = await a.mutation(api.world.joinWorld, { worldId });
  if (typeof joinA !== "string") throw new Error(`joinWorld gave ${JSON.stringify(joinA)}`);
  const playerA = await waitForInput(a, joinA);
  const playerB = await waitForInput(b, await b.mutation(api.world.joinWorld, { worldId }));
  const state = watch(a, api.world.worldState, { worldId });
  await until(
    () =>
      state.value &&
      state.value.world.players.find((p) => p.id === playerA)?.human === meA.value &&
      state.value.world.players.find((p) => p.id === playerB)?.human === meB.value,
    "both players in the world, each its browser's",
  );
  step("joinWorld({worldId}) answers an input id, and each browser plays its own player", {
    playerA,
    playerB,
  });

  const again = await waitForInput(a, await a.mutation(api.world.joinWorld, { worldId })).then(
    () => "joined twice",
    (error) => error.message,
  );
  if (again === "joined twice") throw new Error("a browser joined twice");
  step("a browser that plays already cannot join again", { message: again });

  const moveTo = (client, playerId) =>
    client.mutation(api.world.sendWorldInput, {
      engineId,
      name: "moveTo",
      args: { playerId, destination: { x: 10, y: 16 } },
    });
  await waitForInput(a, await moveTo(a, playerA));
  const walking = await until(
    () => state.value.world.players.find((p) => p.id === playerA)?.pathfinding,
    "A walking",
  );
  step("a click walks the browser's own player", { destination: walking.destination });

  const notYours = await refused(moveTo(a, playerB), "moving the other browser's player");
  await refused(moveTo(b, tokenPlayer), "moving a token player");
  await refused(
    a.mutation(api.messages.writeMessage, {
      worldId,
      conversationId: "c:0",
      messageUuid: "m-1",
      playerId: tokenPlayer,
      text: "hello",
    }),
    "writing as a token player",
  );
  step("neither browser acts for another's player", { message: notYours });

  await refused(a.mutation(api.testing.kick, {}), "kicking the engine");
  const stop = await refused(a.mutation(api.testing.stop, {}), "freezing without leave");
  await refused(
    a.query(api.usage.tokensThisHour, { worldId, hour: 0 }),
    "an internal function",
  );
  if ((await a.query(api.testing.stopAllowed, {})) !== false) throw new Error("stopAllowed");
  step("a browser reaches no admin function, and may not freeze by default", { message: stop });

  const invite = await waitForInput(
    a,
    await a.mutation(api.world.sendWorldInput, {
      engineId,
      name: "startConversation",
      args: { playerId: playerA, invitee: playerB },
    }),
  );
  const conversation = await until(
    () => state.value.world.conversations.find((c) => c.id === invite),
    "the invitation",
  );
  await waitForInput(
    b,
    await b.mutation(api.world.sendWorldInput, {
      engineId,
      name: "acceptInvite",
      args: { playerId: playerB, conversationId: conversation.id },
    }),
  );
  await until(
    () =>
      state.value.world.conversations
        .find((c) => c.id === conversation.id)
        ?.participants.find((p) => p.playerId === playerB)?.status.kind !== "invited",
    "B to accept",
  );
  step("one browser invites the other, who accepts", { conversation: conversation.id });

  const left = await b.mutation(api.world.leaveWorld, { worldId });
  await waitForInput(b, left);
  await until(() => !state.value.world.players.find((p) => p.id === playerB), "B to leave");
  if (!state.value.world.players.find((p) => p.id === playerA)) throw new Error("A left too");
  step("leaveWorld takes out the caller's player only");

  for (const box of [meA, meB, state]) box.stop();
  await a.close();
  await b.close();
}

const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: "timed out after 90 s" }));
  process.exit(1);
}, 90000);

main()
  .then(() => {
    clearTimeout(watchdog);
    process.exit(0);
  })
  .catch((error) => {
    console.log(JSON.stringify({ ok: false, error: String((error && error.stack) || error) }));
    process.exit(1);
  });
