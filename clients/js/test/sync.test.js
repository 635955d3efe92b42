// The sync contract (docs/handlers.md): sync on every open, buffer live messages until
// sync.complete, merge by sequence, honour reset, parts, removals, truncated -> fetch by id.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { MAX_SYNC_IDS, RealtimeClient, incidentId } from "../realtime-client.js";
import { clientHarness, incidentMessage } from "./fakes.js";


function setup(options = {}) {
  const names = ["message", "removed", "truncated", "stale", "syncing", "synced", "error"];
  const harness = clientHarness(RealtimeClient, names, options);
  // What the app would render: id -> status (or the whole incident).
  const held = () =>
    Object.fromEntries(
      [...harness.client.incidents].map(([id, entry]) => [id, entry.incident && entry.incident.status]),
    );
  return { ...harness, held };
}

function message(type, id, sequence, status = "open", extra = {}) {
  return incidentMessage(type, id, sequence, {
    incident: { incidentId: id, title: `Incident ${id}`, status },
    ...extra,
  });
}
const snapshot = (id, sequence, status) => message("incident.snapshot", id, sequence, status);
const live = (id, sequence, status, extra) => message("incident.updated", id, sequence, status, extra);
const created = (id, sequence, status) => message("incident.created", id, sequence, status);
const removed = (id, sequence) => incidentMessage("incident.removed", id, sequence);
const truncated = (id, sequence) => incidentMessage("incident.updated", id, sequence, { truncated: true });

/** An open client that holds INC-1 (seq 10) and INC-2 (seq 20), with cursor "c1". */
function synced(options) {
  const t = setup(options);
  t.client.connect();
  t.socket().serverOpen();
  t.socket().serverSync([snapshot("INC-1", "10", "open"), snapshot("INC-2", "20", "open")], { cursor: "c1" });
  return t;
}

describe("incident ids", () => {
  it("are the key's value, or the values in attribute-name order joined by |", () => {
    assert.equal(incidentId({ keys: { incidentId: "INC-1" } }), "INC-1");
    assert.equal(incidentId({ keys: { sk: "META", pk: "INCIDENT#7" } }), "INCIDENT#7|META");
    assert.equal(incidentId({ keys: { n: 12345678901234 } }), "12345678901234");
    assert.equal(incidentId({ incident: { incidentId: "X" } }), "X");
    assert.equal(incidentId({}), null);
  });
});

describe("sync on open", () => {
  it("asks for everything on the first connection and holds the answer", () => {
    const { client, socket, named, held } = setup();
    client.connect();
    socket().serverOpen();
    assert.deepEqual(socket().sentJson(), [{ action: "sync" }]);
    assert.deepEqual(named("syncing")[0], { kind: "full", since: undefined, incidents: undefined });
    socket().serverSync([snapshot("INC-1", "10", "open"), snapshot("INC-2", "20", "acknowledged")], {
      cursor: "c1",
    });
    assert.deepEqual(held(), { "INC-1": "open", "INC-2": "acknowledged" });
    assert.deepEqual(named("synced"), [{ kind: "full", reset: true, count: 2, changes: 2, cursor: "c1" }]);
    assert.deepEqual(
      named("message").map((m) => [m.type, m.id]),
      [
        ["incident.snapshot", "INC-1"],
        ["incident.snapshot", "INC-2"],
      ],
    );
    const entry = client.incidents.get("INC-1");
    assert.equal(entry.sequence, "10");
    assert.deepEqual(entry.keys, { incidentId: "INC-1" });
    assert.equal(client.cursor, "c1");
  });

  it("catches up after a gap: changes, creations and removals, from its last cursor", () => {
    const { socket, named, held, reconnect } = synced();
    reconnect();
    assert.deepEqual(socket().sentJson(), [{ action: "sync", since: "c1" }]);
    socket().serverSync(
      [snapshot("INC-1", "15", "escalated"), snapshot("INC-3", "30", "open"), removed("INC-2", "25")],
      { cursor: "c2" },
    );
    assert.deepEqual(held(), { "INC-1": "escalated", "INC-3": "open" });
    assert.deepEqual(named("synced").at(-1), { kind: "since", reset: false, count: 3, changes: 3, cursor: "c2" });
    const [gone] = named("removed");
    assert.equal(gone.id, "INC-2");
    assert.equal(gone.reason, "removed");
    assert.equal(gone.incident.status, "open"); // what the app showed
    // The next reconnect asks from the new cursor.
    reconnect();
    assert.deepEqual(socket().sentJson(), [{ action: "sync", since: "c2" }]);
  });

  it("on reset drops what it holds that the answer does not name, and keeps the rest", () => {
    const { socket, named, held, reconnect } = synced();
    reconnect();
    // Cursor too old for the server: the whole state again, INC-2 gone without a tombstone.
    socket().serverSync([snapshot("INC-1", "10", "open"), snapshot("INC-3", "30", "open")], {
      reset: true,
      cursor: "c9",
    });
    assert.deepEqual(held(), { "INC-1": "open", "INC-3": "open" });
    assert.deepEqual(
      named("removed").map((r) => [r.id, r.reason]),
      [["INC-2", "reset"]],
    );
    const last = named("synced").at(-1);
    assert.equal(last.reset, true);
    assert.equal(last.changes, 2); // INC-3 added, INC-2 dropped; INC-1 was a duplicate
  });

  it("treats an answer equal to what it holds as a duplicate and an older one as stale", () => {
    const { client, socket, named, reconnect } = synced();
    const before = named("message").length;
    reconnect();
    socket().serverSync([snapshot("INC-1", "10", "open"), snapshot("INC-2", "19", "older")]);
    assert.equal(named("message").length, before);
    assert.equal(client.incidents.get("INC-2").incident.status, "open");
    assert.equal(named("synced").at(-1).changes, 0);
    assert.equal(client.stats.duplicates, 1);
    assert.equal(client.stats.stale, 1);
  });

  it("compares sequences as integers, not as text", () => {
    const { client, socket, reconnect } = synced();
    reconnect();
    socket().serverSync([snapshot("INC-1", "9", "older"), snapshot("INC-2", "100", "newer")]);
    assert.equal(client.incidents.get("INC-1").incident.status, "open");
    assert.equal(client.incidents.get("INC-2").incident.status, "newer");
  });
});

describe("live messages during a sync", () => {
  it("are buffered until sync.complete, then merged by sequence", () => {
    const { client, socket, named, held, reconnect } = synced();
    reconnect();
    socket().serverSend(live("INC-1", "40", "on scene")); // newer than the answer: wins
    socket().serverSend(live("INC-2", "21", "stale live")); // older than the answer: dropped
    assert.equal(client.incidents.get("INC-1").incident.status, "open"); // not yet
    socket().serverSync([snapshot("INC-1", "35", "dispatched"), snapshot("INC-2", "22", "acknowledged")]);
    assert.deepEqual(held(), { "INC-1": "on scene", "INC-2": "acknowledged" });
    assert.equal(named("stale").at(-1).id, "INC-2");
    // The app saw the answer, then the newer live message.
    assert.deepEqual(
      named("message")
        .slice(-3)
        .map((m) => [m.type, m.incident.status]),
      [
        ["incident.snapshot", "dispatched"],
        ["incident.snapshot", "acknowledged"],
        ["incident.updated", "on scene"],
      ],
    );
  });

  it("a creation that arrives live during a reset sync survives the reset", () => {
    const { socket, held, reconnect } = synced();
    reconnect();
    socket().serverSend(created("INC-4", "50", "open")); // created after the server read its state
    socket().serverSync([snapshot("INC-1", "10", "open")], { reset: true });
    assert.deepEqual(held(), { "INC-1": "open", "INC-4": "open" });
  });

  it("a live message that the answer also carries is applied once", () => {
    const { socket, named, reconnect } = synced();
    reconnect();
    const change = live("INC-1", "12", "acknowledged");
    socket().serverSend(change);
    socket().serverSync([{ ...change, type: "incident.snapshot" }]);
    assert.equal(named("message").filter((m) => m.sequence === "12").length, 1);
  });

  it("are applied when the connection drops before the answer, and the next open syncs again", () => {
    const { socket, held, reconnect } = synced();
    reconnect();
    socket().serverSend(live("INC-1", "12", "acknowledged"));
    reconnect();
    assert.equal(held()["INC-1"], "acknowledged");
    assert.deepEqual(socket().sentJson(), [{ action: "sync", since: "c1" }]);
  });

  it("a live removal drops the incident, and an older update cannot bring it back", () => {
    const { client, socket, named, held } = synced();
    socket().serverSend(removed("INC-1", "11"));
    socket().serverSend(live("INC-1", "10", "zombie"));
    assert.deepEqual(held(), { "INC-2": "open" });
    assert.equal(named("removed")[0].reason, "removed");
    assert.equal(client.stats.removed, 1);
    // Created again (a new INSERT has a newer sequence): back on the board.
    socket().serverSend(created("INC-1", "12", "open"));
    assert.equal(held()["INC-1"], "open");
  });
});

describe("oversize incidents in parts", () => {
  function parts(whole, n, partId = "p1") {
    const text = JSON.stringify(whole);
    const size = Math.ceil(text.length / n);
    return Array.from({ length: n }, (_, index) => ({
      version: 1,
      type: "incident.part",
      partId,
      index,
      count: n,
      chunk: text.slice(index * size, (index + 1) * size),
    }));
  }

  it("reassembles the parts into the whole message", () => {
    const { client, socket } = setup();
    client.connect();
    socket().serverOpen();
    const big = snapshot("INC-9", "90", "open");
    big.incident.notes = "x".repeat(300_000);
    for (const part of parts(big, 3)) socket().serverSend(part);
    socket().serverSend({ version: 1, type: "sync.complete", cursor: "c1", reset: true, count: 1 });
    assert.equal(client.incidents.get("INC-9").incident.notes.length, 300_000);
  });

  it("takes the parts in any order and reports a broken set instead of guessing", () => {
    const { client, socket, named } = setup();
    client.connect();
    socket().serverOpen();
    const [a, b, c] = parts(snapshot("INC-9", "90", "open"), 3);
    socket().serverSend(c);
    socket().serverSend(a);
    socket().serverSend(b);
    assert.equal(client.incidents.get("INC-9").incident.status, "open");
    const [x, y] = parts(snapshot("INC-8", "80", "open"), 2, "p2");
    socket().serverSend(x);
    socket().serverSend({ ...y, count: 3 }); // a count that changed midway
    socket().serverSend({ ...x, partId: "p3", index: 5 }); // index out of range
    assert.deepEqual(
      named("error").map((e) => e.kind),
      ["part", "part"],
    );
    assert.equal(client.incidents.has("INC-8"), false);
  });

  it("forgets unfinished parts when the connection ends", () => {
    const { client, socket, reconnect } = setup();
    client.connect();
    socket().serverOpen();
    const [a, b] = parts(snapshot("INC-9", "90", "open"), 2);
    socket().serverSend(a);
    reconnect();
    socket().serverSend(b); // the second half alone is not a message
    assert.equal(client.incidents.has("INC-9"), false);
  });
});

describe("truncated live messages", () => {
  it("are fetched by id with one sync for several, and the answer replaces the marker", () => {
    const { client, socket, named } = synced();
    socket().serverSend({ version: 1, type: "batch", messages: [truncated("INC-1", "11"), truncated("INC-2", "21")] });
    assert.deepEqual(socket().lastSync(), { action: "sync", incidents: ["INC-1", "INC-2"] });
    assert.equal(named("truncated").length, 2);
    assert.equal(client.incidents.get("INC-1").truncated, true);
    // An older live update meanwhile is stale: the truncated one is newer.
    socket().serverSend(live("INC-1", "10", "older", { eventId: "late" }));
    assert.equal(named("stale").length, 1);
    socket().serverSync([snapshot("INC-1", "11", "big one"), snapshot("INC-2", "21", "big two")], { cursor: "ignored" });
    assert.equal(client.incidents.get("INC-1").incident.status, "big one");
    assert.equal(client.incidents.get("INC-1").truncated, false);
    assert.equal(named("synced").at(-1).kind, "incidents");
    assert.equal(named("synced").at(-1).reset, false);
    assert.equal(client.cursor, "c1"); // a fetch by id is no catch-up point
  });

  it("wait for the sync in flight, and go 100 ids to a request", () => {
    const { client, socket } = setup();
    client.connect();
    socket().serverOpen(); // the full sync is in flight
    const many = Array.from({ length: MAX_SYNC_IDS + 5 }, (_, i) => truncated(`T-${i}`, String(100 + i)));
    socket().serverSend({ version: 1, type: "batch", messages: many }); // buffered: live
    assert.deepEqual(socket().sentJson(), [{ action: "sync" }]);
    socket().serverSync([], { cursor: "c1" });
    assert.equal(socket().lastSync().incidents.length, MAX_SYNC_IDS);
    socket().serverSync([]);
    assert.deepEqual(socket().lastSync().incidents, ["T-100", "T-101", "T-102", "T-103", "T-104"]);
    assert.equal(client.stats.syncs, 3);
  });
});

describe("sync failures", () => {
  it("sync_throttled: applies the buffer and retries after retryAfterMs", () => {
    const { socket, clock, named, held, reconnect } = synced();
    reconnect();
    socket().serverSend(live("INC-1", "12", "acknowledged"));
    socket().serverSend({
      version: 1,
      type: "error",
      code: "sync_throttled",
      message: "one full sync per 5 s",
      retryAfterMs: 2000,
    });
    assert.equal(held()["INC-1"], "acknowledged"); // not held back while waiting
    const failure = named("error").find((e) => e.kind === "sync");
    assert.equal(failure.reason, "throttled");
    assert.ok(failure.retryInMs >= 2000 && failure.retryInMs <= 2200);
    clock.advance(failure.retryInMs - 1);
    assert.equal(socket().sentJson().length, 1);
    clock.advance(1);
    assert.deepEqual(socket().sentJson().at(-1), { action: "sync", since: "c1" });
    socket().serverSync([snapshot("INC-3", "30", "open")], { cursor: "c2" });
    assert.equal(held()["INC-3"], "open");
  });

  it("bad_request: a catch-up falls back to a full sync; a fetch by id drops the ids", () => {
    const { client, socket, clock, named, reconnect } = synced();
    reconnect();
    socket().serverSend({ version: 1, type: "error", code: "bad_request", message: "since: not a cursor" });
    clock.advance(named("error").at(-1).retryInMs);
    assert.deepEqual(socket().lastSync(), { action: "sync" });
    socket().serverSync([snapshot("INC-1", "10", "open")], { cursor: "c3" });
    socket().serverSend(truncated("INC-1", "11"));
    assert.deepEqual(socket().lastSync(), { action: "sync", incidents: ["INC-1"] });
    socket().serverSend({ version: 1, type: "error", code: "bad_request", message: "incidents" });
    clock.advance(120_000);
    assert.equal(socket().sentJson().filter((m) => m.action === "sync").length, 3);
    assert.equal(client.syncing, null);
  });

  it("a stack without the sync route ($default's unknown_action): live messages only", () => {
    const { client, socket, clock, held } = setup();
    client.connect();
    socket().serverOpen();
    socket().serverSend(live("INC-1", "12", "open"));
    socket().serverSend({ type: "error", error: "unknown_action", message: "ping only" });
    assert.equal(held()["INC-1"], "open");
    socket().serverSend(truncated("INC-1", "13"));
    clock.advance(120_000);
    assert.equal(socket().sentJson().filter((m) => m.action === "sync").length, 1);
  });

  it("no answer in syncTimeoutMs, or API Gateway's own error: applies the buffer and retries", () => {
    const { socket, clock, named, held, reconnect } = synced({ syncTimeoutMs: 5000 });
    reconnect();
    socket().serverSend(live("INC-1", "12", "acknowledged"));
    clock.advance(4999);
    assert.equal(held()["INC-1"], "open");
    clock.advance(1);
    assert.equal(held()["INC-1"], "acknowledged");
    assert.equal(named("error").at(-1).reason, "timeout");
    clock.advance(named("error").at(-1).retryInMs);
    assert.deepEqual(socket().lastSync(), { action: "sync", since: "c1" });
    socket().serverSend({ message: "Internal server error", connectionId: "abc=", requestId: "r1" });
    assert.equal(named("error").at(-1).reason, "server-error");
    clock.advance(named("error").at(-1).retryInMs);
    assert.equal(socket().sentJson().filter((m) => m.action === "sync").length, 3);
    // The local emulator answers a failed integration with the error's text, not JSON.
    socket().serverSend("environment variable X is required and must not be empty");
    assert.equal(named("error").at(-1).reason, "server-error");
    clock.advance(named("error").at(-1).retryInMs);
    assert.equal(socket().sentJson().filter((m) => m.action === "sync").length, 4);
  });

  it("with sync: false, sends no sync and applies live messages at once", () => {
    const { client, socket, held } = setup({ sync: false });
    client.connect();
    socket().serverOpen();
    socket().serverSend(live("INC-1", "12", "open"));
    assert.deepEqual(socket().sentJson(), []);
    assert.equal(held()["INC-1"], "open");
    assert.throws(() => setup({ syncTimeoutMs: 0 }), /syncTimeoutMs/);
  });
});
