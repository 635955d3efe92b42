// The subscription contract (docs/handlers.md): the filter in the connect URL and in a
// `subscribe` sent on every open before the sync, `subscribed`, a changed filter resynced in
// full, `bad_request` surfaced, `incident.left` dropping an incident by sequence.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { FILTER_PARAM, RealtimeClient, RealtimeClientError, checkFilter } from "../realtime-client.js";
import { URL_, clientHarness, fakeWebSocketClass, incidentMessage } from "./fakes.js";

const NORTH = { area: ["north"] };
const HARBOUR = { area: ["harbour"], urgency: ["high", "critical"] };

function setup(options = {}) {
  const names = ["message", "removed", "stale", "syncing", "synced", "subscribed", "error"];
  const harness = clientHarness(RealtimeClient, names, { token: "tok", ...options });
  const held = () =>
    Object.fromEntries([...harness.client.incidents].map(([id, entry]) => [id, entry.incident && entry.incident.area]));
  return { ...harness, held };
}

const subscribed = (filter, { narrowed = false, areas = ["*"] } = {}) => ({
  version: 1,
  type: "subscribed",
  filter,
  narrowed,
  areas,
});
const badRequest = { version: 1, type: "error", code: "bad_request", message: "filter: at most 20 values per field" };

function message(type, id, sequence, area) {
  return incidentMessage(type, id, sequence, { incident: { incidentId: id, area } });
}
const snapshot = (id, sequence, area) => message("incident.snapshot", id, sequence, area);
const updated = (id, sequence, area) => message("incident.updated", id, sequence, area);
const left = (id, sequence) => incidentMessage("incident.left", id, sequence);

/** An open client subscribed to `filter`, holding INC-1 (north, seq 10), cursor "c1". */
function subscribedClient(filter = NORTH) {
  const t = setup({ filter });
  t.client.connect();
  t.socket().serverOpen();
  t.socket().serverSend(subscribed(filter, { areas: ["north", "harbour"] }));
  t.socket().serverSync([snapshot("INC-1", "10", "north")], { cursor: "c1" });
  return t;
}

describe("filters", () => {
  it("are copied, and refused with a message when not field -> list of strings", () => {
    const asked = { area: ["north"] };
    const copy = checkFilter(asked);
    asked.area.push("harbour");
    assert.deepEqual(copy, { area: ["north"] });
    assert.deepEqual(checkFilter({}), {});
    for (const bad of [null, [], "north", { area: "north" }, { area: [1] }]) {
      assert.throws(() => checkFilter(bad), RealtimeClientError);
    }
    const { FakeWebSocket } = fakeWebSocketClass();
    assert.throws(() => new RealtimeClient({ url: URL_, WebSocket: FakeWebSocket, filter: { area: "north" } }), /list of strings/);
  });
});

describe("subscribe on open", () => {
  it("offers the filter in the connect URL, subscribes before the sync, and syncs once answered", () => {
    const { client, socket, named } = setup({ filter: HARBOUR });
    client.connect();
    const url = new URL(socket().url);
    assert.deepEqual(JSON.parse(url.searchParams.get(FILTER_PARAM)), HARBOUR);
    assert.equal(url.searchParams.get("token"), "tok");
    socket().serverOpen();
    // The sync waits: the server must answer it for this filter.
    assert.deepEqual(socket().sentJson(), [{ action: "subscribe", filter: HARBOUR }]);
    socket().serverSend(subscribed({ area: ["harbour"], urgency: ["high"] }, { narrowed: true, areas: ["harbour"] }));
    assert.deepEqual(socket().sentJson(), [{ action: "subscribe", filter: HARBOUR }, { action: "sync" }]);
    assert.deepEqual(named("subscribed"), [
      { filter: { area: ["harbour"], urgency: ["high"] }, narrowed: true, areas: ["harbour"], requested: HARBOUR },
    ]);
    assert.deepEqual(client.subscription, {
      filter: { area: ["harbour"], urgency: ["high"] },
      narrowed: true,
      areas: ["harbour"],
    });
  });

  it("leaves {} out of the URL ($connect's default) but still subscribes, to learn the areas", () => {
    const { client, socket } = setup({ filter: {} });
    client.connect();
    assert.equal(new URL(socket().url).searchParams.has(FILTER_PARAM), false);
    socket().serverOpen();
    assert.deepEqual(socket().sentJson(), [{ action: "subscribe", filter: {} }]);
    socket().serverSend(subscribed({}, { areas: ["north/*"] }));
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync" });
  });

  it("after a refused handshake offers a filter not yet accepted by message only, then syncs in full", () => {
    const { client, clock, socket, named } = setup({ filter: NORTH });
    const delays = [];
    client.on("reconnecting", ({ delayMs }) => delays.push(delayMs));
    client.connect();
    socket().serverOpen();
    socket().serverSend(subscribed(NORTH));
    socket().serverSync([], { cursor: "c1" });
    client.subscribe(HARBOUR); // sent, but the connection drops before the answer
    socket().serverClose(1006);
    clock.advance(delays.at(-1));
    assert.deepEqual(JSON.parse(new URL(socket().url).searchParams.get(FILTER_PARAM)), HARBOUR);
    // $connect may have refused the filter (400, which a browser sees as any refusal).
    socket().serverClose(1006);
    assert.equal(client.refusals, 1);
    clock.advance(delays.at(-1));
    assert.equal(new URL(socket().url).searchParams.has(FILTER_PARAM), false);
    socket().serverOpen();
    assert.deepEqual(socket().sentJson(), [{ action: "subscribe", filter: HARBOUR }]);
    socket().serverSend(subscribed(HARBOUR));
    // Live messages from outside the filter may have come meanwhile: the whole state again.
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync" });
    assert.equal(named("subscribed").length, 2);
    // Once accepted, the filter is offered at connect again.
    socket().serverClose(1006);
    clock.advance(delays.at(-1));
    assert.deepEqual(JSON.parse(new URL(socket().url).searchParams.get(FILTER_PARAM)), HARBOUR);
  });

  it("without a filter sends none and syncs at once (the server's default: all the token allows)", () => {
    const { client, socket } = setup();
    client.connect();
    assert.equal(new URL(socket().url).searchParams.has(FILTER_PARAM), false);
    socket().serverOpen();
    assert.deepEqual(socket().sentJson(), [{ action: "sync" }]);
  });

  it("re-sends the subscription on every reconnect before the catch-up sync", () => {
    const { socket, reconnect } = subscribedClient();
    reconnect();
    assert.deepEqual(JSON.parse(new URL(socket().url).searchParams.get(FILTER_PARAM)), NORTH);
    assert.deepEqual(socket().sentJson(), [{ action: "subscribe", filter: NORTH }]);
    socket().serverSend(subscribed(NORTH));
    assert.deepEqual(socket().sentJson(), [
      { action: "subscribe", filter: NORTH },
      { action: "sync", since: "c1" },
    ]);
  });

  it("syncs anyway when the answer does not come, or the stack has no subscribe route", () => {
    const { client, clock, socket, named, reconnect } = setup({ filter: NORTH, syncTimeoutMs: 5000 });
    client.connect();
    socket().serverOpen();
    clock.advance(5000);
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync" });
    assert.equal(named("error").at(-1).kind, "subscribe");
    assert.equal(named("error").at(-1).reason, "timeout");
    socket().serverSync([], { cursor: "c1" });
    reconnect();
    socket().serverSend({ type: "error", error: "unknown_action" });
    assert.deepEqual(named("error").at(-1).reason, "unsupported");
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync", since: "c1" });
  });
});

describe("subscribe while open", () => {
  it("sends the new filter, then a full sync whose reset drops what no longer matches", () => {
    const { client, socket, named, held } = subscribedClient();
    assert.equal(client.subscribe(HARBOUR), true);
    assert.deepEqual(socket().sentJson().at(-1), { action: "subscribe", filter: HARBOUR });
    socket().serverSend(subscribed(HARBOUR));
    // Full, not since: a catch-up would miss harbour incidents that did not change lately.
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync" });
    socket().serverSync([snapshot("INC-7", "70", "harbour")], { cursor: "c2" });
    assert.deepEqual(held(), { "INC-7": "harbour" });
    assert.deepEqual(
      named("removed").map((r) => [r.id, r.reason]),
      [["INC-1", "reset"]],
    );
    assert.equal(client.cursor, "c2");
  });

  it("waits for a sync in flight, and for a subscribe in flight (one request at a time)", () => {
    const { client, socket, reconnect } = subscribedClient();
    reconnect();
    socket().serverSend(subscribed(NORTH));
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync", since: "c1" });
    client.subscribe(HARBOUR);
    client.subscribe({ area: ["south"] });
    assert.equal(socket().sentJson().length, 2); // nothing sent while the sync is answered
    socket().serverSync([], { cursor: "c2" });
    assert.deepEqual(socket().sentJson().at(-1), { action: "subscribe", filter: { area: ["south"] } });
    client.subscribe(NORTH);
    assert.equal(socket().sentJson().length, 3);
    socket().serverSend(subscribed({ area: ["south"] }));
    assert.deepEqual(socket().sentJson().at(-1), { action: "subscribe", filter: NORTH });
    socket().serverSend(subscribed(NORTH));
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync" });
    assert.equal(client.subscribe(HARBOUR), true);
  });

  it("before connect: kept for the first connection", () => {
    const { client, socket } = setup();
    assert.equal(client.subscribe(NORTH), false);
    client.connect();
    assert.deepEqual(JSON.parse(new URL(socket().url).searchParams.get(FILTER_PARAM)), NORTH);
    socket().serverOpen();
    assert.deepEqual(socket().sentJson(), [{ action: "subscribe", filter: NORTH }]);
  });

  it("a refused filter surfaces as an error; the previous one stays, also for the next connect", () => {
    const { client, socket, named, held, reconnect } = subscribedClient();
    const tooMany = { area: Array.from({ length: 50 }, (_, i) => `area-${i}`) };
    client.subscribe(tooMany);
    socket().serverSend(badRequest);
    const error = named("error").at(-1);
    assert.equal(error.kind, "subscribe");
    assert.equal(error.reason, "bad_request");
    assert.deepEqual(error.filter, tooMany);
    assert.deepEqual(error.frame, badRequest);
    assert.deepEqual(client.filter, NORTH);
    // The state held is still the north one: no sync was needed, none was sent.
    assert.deepEqual(held(), { "INC-1": "north" });
    assert.equal(socket().sentJson().filter((m) => m.action === "sync").length, 1);
    reconnect();
    assert.deepEqual(JSON.parse(new URL(socket().url).searchParams.get(FILTER_PARAM)), NORTH);
  });

  it("a refused filter on open still syncs, and is not offered again", () => {
    const { client, socket, named, reconnect } = setup({ filter: { colour: ["red"] } });
    client.connect();
    socket().serverOpen();
    socket().serverSend(badRequest);
    assert.equal(named("error").at(-1).reason, "bad_request");
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync" });
    socket().serverSync([], { cursor: "c1" });
    reconnect();
    assert.equal(new URL(socket().url).searchParams.has(FILTER_PARAM), false);
    assert.deepEqual(socket().sentJson(), [{ action: "sync", since: "c1" }]);
    assert.equal(client.filter, null);
  });
});

describe("incident.left", () => {
  it("drops the incident; an older update is stale, a newer one that matches brings it back", () => {
    const { client, socket, named, held } = subscribedClient();
    socket().serverSend(left("INC-1", "12"));
    assert.deepEqual(held(), {});
    const [gone] = named("removed");
    assert.equal(gone.reason, "left");
    assert.equal(gone.incident.area, "north");
    assert.equal(client.stats.left, 1);
    assert.equal(client.stats.removed, 0);
    socket().serverSend(left("INC-1", "12")); // delivered twice: once
    socket().serverSend(updated("INC-1", "11", "north")); // older than the leave
    assert.deepEqual(held(), {});
    assert.equal(named("stale").length, 1);
    socket().serverSend(updated("INC-1", "14", "north")); // moved back
    assert.deepEqual(held(), { "INC-1": "north" });
    assert.equal(named("removed").length, 1);
  });

  it("during a catch-up is applied like a removal, and a late snapshot cannot undo it", () => {
    const { socket, held, reconnect } = subscribedClient();
    reconnect();
    socket().serverSend(subscribed(NORTH));
    socket().serverSend(left("INC-1", "12"));
    socket().serverSync([snapshot("INC-1", "11", "north")], { cursor: "c2" });
    assert.deepEqual(held(), {});
  });
});
