import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  BoundedSet,
  CLOSE_CONNECT_TIMEOUT,
  CLOSE_PING_TIMEOUT,
  CLOSE_ROTATED,
  RealtimeClient,
  RealtimeClientError,
  backoffDelay,
  connectionProtocols,
  connectionUrl,
  incidentKey,
  parseSequence,
} from "../realtime-client.js";
import { URL_, clientHarness, incidentMessage } from "./fakes.js";

const MINUTE = 60_000;
// random() = 0.5: a connection is rotated at 110 min * 0.95 = 104.5 min.
const ROTATION_DUE = 104.5 * MINUTE;

function setup(options = {}) {
  const names = [
    "connected",
    "message",
    "truncated",
    "reconnecting",
    "refused",
    "disconnected",
    "pong",
    "error",
    "stale",
    "closed",
  ];
  return clientHarness(RealtimeClient, names, options);
}

/** An open client (synced when `synced`) whose rotation is due: sockets[1], the replacement, connects. */
function rotationDue({ synced = false } = {}) {
  const harness = setup();
  harness.client.connect();
  harness.sockets[0].serverOpen();
  if (synced) harness.sockets[0].serverSync();
  harness.clock.advance(ROTATION_DUE);
  return harness;
}

function message(id, sequence, overrides = {}) {
  return incidentMessage("incident.updated", id, sequence, {
    incident: { incidentId: id, title: `Incident ${id}`, urgency: "low", status: "open" },
    ...overrides,
  });
}

describe("connection URL and subprotocols", () => {
  it("puts the token in the query string, keeping the URL's own parameters", () => {
    const url = connectionUrl(`${URL_}?userId=alice&role=viewer`, "t0k.en", "query", "token");
    const parsed = new URL(url);
    assert.equal(parsed.searchParams.get("token"), "t0k.en");
    assert.equal(parsed.searchParams.get("userId"), "alice");
    assert.equal(parsed.pathname, "/prod");
  });

  it("leaves the URL alone when the token travels as a subprotocol", () => {
    assert.equal(connectionUrl(URL_, "abc", "protocol"), URL_);
    assert.deepEqual(connectionProtocols("abc", "protocol"), ["abc"]);
    assert.deepEqual(connectionProtocols("abc", "protocol", ["realtime.v1"]), ["realtime.v1", "abc"]);
    assert.deepEqual(
      connectionProtocols("abc", "protocol", (token) => ["realtime.v1", `bearer.${token}`]),
      ["realtime.v1", "bearer.abc"],
    );
    assert.deepEqual(connectionProtocols("abc", "query"), []);
  });

  it("refuses a token that cannot be a subprotocol, saying what to do", () => {
    assert.throws(() => connectionProtocols("abc==", "protocol"), /base64url without padding/);
    assert.throws(() => connectionProtocols("a b", "protocol"), RealtimeClientError);
  });

  it("refuses a URL that is not a WebSocket URL", () => {
    assert.throws(() => connectionUrl("https://example.com/prod"), /wss:\/\/ or ws:\/\//);
  });

  it("opens the socket with the token where the option says", () => {
    const q = setup({ token: "abc", url: `${URL_}?x=1` });
    q.client.connect();
    assert.equal(new URL(q.sockets[0].url).searchParams.get("token"), "abc");
    assert.equal(q.sockets[0].protocols, undefined);

    const p = setup({ token: "abc", tokenIn: "protocol", protocols: ["realtime.v1"] });
    p.client.connect();
    assert.equal(p.sockets[0].url, URL_);
    assert.deepEqual(p.sockets[0].protocols, ["realtime.v1", "abc"]);
    p.sockets[0].serverOpen("realtime.v1");
    assert.equal(p.named("connected")[0].protocol, "realtime.v1");
  });

  it("asks a token function again for every connection", async () => {
    let n = 0;
    const { client, sockets, clock } = setup({ token: async () => `tok${++n}` });
    client.connect();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(new URL(sockets[0].url).searchParams.get("token"), "tok1");
    sockets[0].serverOpen();
    sockets[0].serverClose(1001, "going away", true);
    clock.advance(60_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(new URL(sockets[1].url).searchParams.get("token"), "tok2");
  });

  it("reports a token function that fails and tries again later", async () => {
    let calls = 0;
    const { client, sockets, clock, named } = setup({
      token: () => {
        calls += 1;
        if (calls === 1) throw new Error("token service down");
        return "fresh";
      },
    });
    client.connect();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sockets.length, 0);
    assert.equal(named("error")[0].kind, "connect");
    assert.equal(named("reconnecting")[0].reason, "connect-error");
    clock.advance(named("reconnecting")[0].delayMs);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(new URL(sockets[0].url).searchParams.get("token"), "fresh");
  });

  it("opens nothing when closed while the token is being fetched", async () => {
    const { client, sockets } = setup({ token: async () => "late" });
    client.connect();
    client.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sockets.length, 0);
  });

  it("validates the timing options against API Gateway's limits", () => {
    assert.throws(() => setup({ pingIntervalMs: 10 * MINUTE }), /10 minutes idle/);
    assert.throws(() => setup({ maxConnectionAgeMs: 2 * 60 * MINUTE }), /2 hours/);
    assert.throws(() => setup({ tokenIn: "header" }), /tokenIn/);
  });
});

describe("events", () => {
  it("reports connected once the socket opens, not before", () => {
    const { client, sockets, named } = setup();
    client.connect();
    assert.equal(client.state, "connecting");
    assert.equal(named("connected").length, 0);
    sockets[0].serverOpen();
    assert.equal(client.state, "open");
    assert.deepEqual(
      { ...named("connected")[0], at: 0 },
      { reconnect: false, rotated: false, gapMs: 0, protocol: "", at: 0 },
    );
  });

  it("distinguishes a refused handshake (close without open) from a dropped connection", () => {
    const { client, sockets, named } = setup();
    client.connect();
    sockets[0].serverClose(1006);
    assert.equal(named("refused").length, 1);
    assert.equal(named("refused")[0].consecutive, 1);
    assert.equal(named("disconnected").length, 0);
    assert.equal(named("reconnecting")[0].reason, "refused");
    assert.equal(client.state, "reconnecting");
  });

  it("reports a drop after open as disconnected, then reconnecting, then connected again", () => {
    const { client, sockets, named, clock } = setup();
    client.connect();
    sockets[0].serverOpen();
    clock.advance(5_000);
    sockets[0].serverClose(1006);
    assert.equal(named("refused").length, 0);
    assert.deepEqual(named("disconnected")[0], { code: 1006, reason: "", wasClean: false });
    const [{ delayMs, attempt, reason }] = named("reconnecting");
    assert.equal(attempt, 1);
    assert.equal(reason, "closed");
    clock.advance(delayMs - 1);
    assert.equal(sockets.length, 1);
    clock.advance(1);
    assert.equal(sockets.length, 2);
    clock.advance(250);
    sockets[1].serverOpen();
    const connected = named("connected")[1];
    assert.equal(connected.reconnect, true);
    assert.equal(connected.rotated, false);
    assert.equal(connected.gapMs, delayMs + 250);
  });

  it("reports the server's error frames and frames it cannot parse, and keeps going", () => {
    const { client, sockets, named } = setup();
    client.connect();
    sockets[0].serverOpen();
    sockets[0].serverSync();
    sockets[0].serverSend({ type: "error", error: "unknown_action", message: "no route" });
    sockets[0].serverSend("not json");
    sockets[0].serverSend(message("INC-1", "10"));
    assert.deepEqual(
      named("error").map((e) => e.kind),
      ["server", "parse"],
    );
    assert.equal(named("error")[0].frame.error, "unknown_action");
    assert.equal(named("message").length, 1);
  });

  it("a listener that throws does not stop the others", () => {
    const { client, sockets, named } = setup();
    client.on("message", () => {
      throw new Error("app bug");
    });
    const got = [];
    client.on("message", (m) => got.push(m.eventId));
    client.connect();
    sockets[0].serverOpen();
    sockets[0].serverSync();
    sockets[0].serverSend(message("INC-1", "10"));
    assert.deepEqual(got, ["ev-INC-1-10"]);
    assert.equal(named("error")[0].kind, "listener");
  });

  it("close() stops for good: no reconnect, no more events", () => {
    const { client, sockets, named, clock } = setup();
    client.connect();
    sockets[0].serverOpen();
    client.close();
    assert.deepEqual(sockets[0].closedWith, { code: 1000, reason: "client closed" });
    sockets[0].serverClose(1000, "", true);
    clock.advance(3 * 60 * MINUTE);
    assert.equal(sockets.length, 1);
    assert.equal(named("closed").length, 1);
    assert.equal(named("reconnecting").length, 0);
    assert.equal(clock.pending().length, 0);
    assert.throws(() => client.connect(), /closed/);
  });
});

describe("keep-alive and connection lifetime", () => {
  it("pings on the interval while open, and only then", () => {
    const { client, sockets, clock, named } = setup({ pingIntervalMs: 4 * MINUTE });
    client.connect();
    clock.advance(14_000); // still connecting: nothing is sent (the fake throws on that)
    assert.deepEqual(sockets[0].sent, []);
    sockets[0].serverOpen();
    const live = sockets.at(-1);
    assert.deepEqual(live.sentJson(), [{ action: "sync" }]);
    live.serverSync();
    const pings = () => live.sentJson().filter((m) => m.action === "ping");
    clock.advance(4 * MINUTE - 1);
    assert.deepEqual(pings(), []);
    clock.advance(1);
    assert.deepEqual(pings(), [{ action: "ping" }]);
    clock.advance(8 * MINUTE);
    assert.equal(pings().length, 3);
    live.serverSend({ type: "pong" });
    assert.equal(named("pong").length, 1);
  });

  it("with pongTimeoutMs, replaces a connection whose pong does not come", () => {
    const { client, sockets, clock, named } = setup({ pingIntervalMs: MINUTE, pongTimeoutMs: 10_000 });
    client.connect();
    sockets[0].serverOpen();
    clock.advance(MINUTE);
    sockets[0].serverSend({ type: "pong" });
    clock.advance(MINUTE + 9_999);
    assert.equal(named("disconnected").length, 0);
    clock.advance(1);
    assert.deepEqual(sockets[0].closedWith, { code: CLOSE_PING_TIMEOUT, reason: "no pong" });
    assert.equal(named("disconnected")[0].code, CLOSE_PING_TIMEOUT);
    assert.equal(named("reconnecting").length, 1);
  });

  it("gives up on a handshake that does not finish and counts it as refused", () => {
    const { client, sockets, clock, named } = setup({ connectTimeoutMs: 5_000 });
    client.connect();
    clock.advance(5_000);
    assert.equal(sockets[0].closedWith.code, CLOSE_CONNECT_TIMEOUT);
    assert.equal(named("refused").length, 1);
    assert.equal(named("reconnecting").length, 1);
  });

  it("opens a replacement before the 2-hour cut and switches over without a gap", () => {
    const { client, sockets, clock, named } = setup();
    client.connect();
    sockets[0].serverOpen();
    sockets[0].serverSync([], { cursor: "c1" });
    clock.advance(ROTATION_DUE - 1);
    assert.equal(sockets.length, 1);
    clock.advance(1);
    assert.equal(sockets.length, 2);
    assert.equal(client.state, "open");
    // Both deliver during the overlap; the duplicate is dropped.
    sockets[0].serverSend(message("INC-1", "5"));
    sockets[1].serverOpen();
    // The replacement catches up from the last cursor (what the overlap may have missed).
    assert.deepEqual(sockets[1].sentJson(), [{ action: "sync", since: "c1" }]);
    sockets[1].serverSync([], { cursor: "c2" });
    sockets[1].serverSend(message("INC-1", "5"));
    assert.deepEqual(sockets[0].closedWith, { code: CLOSE_ROTATED, reason: "rotated before the 2-hour limit" });
    sockets[0].serverClose(CLOSE_ROTATED, "", true);
    assert.equal(named("disconnected").length, 0);
    assert.equal(named("reconnecting").length, 0);
    assert.equal(named("message").length, 1);
    assert.equal(client.stats.duplicates, 1);
    const connected = named("connected")[1];
    assert.equal(connected.rotated, true);
    assert.equal(connected.gapMs, 0);
    // The new connection pings and rotates in its turn.
    clock.advance(4 * MINUTE);
    assert.deepEqual(sockets[1].sentJson().at(-1), { action: "ping" });
    clock.advance(101 * MINUTE);
    assert.equal(sockets.length, 3);
  });

  it("keeps the current connection when its replacement is refused", () => {
    const { client, sockets, named } = rotationDue({ synced: true });
    sockets[1].serverClose(1006);
    assert.equal(named("refused")[0].rotation, true);
    assert.equal(client.state, "open");
    sockets[0].serverSend(message("INC-1", "5"));
    assert.equal(named("message").length, 1);
  });

  it("promotes a replacement still connecting when the old connection ends first", () => {
    const { client, sockets, named } = rotationDue();
    sockets[0].serverClose(1001, "going away", true);
    assert.equal(named("reconnecting").length, 0);
    sockets[1].serverOpen();
    sockets[1].serverSync();
    assert.equal(sockets.length, 2);
    assert.equal(client.state, "open");
    sockets[1].serverSend(message("INC-1", "5"));
    assert.equal(named("message").length, 1);
  });
});

describe("backoff", () => {
  it("grows exponentially with jitter, capped", () => {
    const backoff = { initialMs: 500, maxMs: 30_000, factor: 2 };
    assert.equal(backoffDelay(1, backoff, () => 0), 250);
    assert.equal(backoffDelay(1, backoff, () => 1), 500);
    assert.equal(backoffDelay(3, backoff, () => 0.5), 1500);
    assert.equal(backoffDelay(20, backoff, () => 1), 30_000);
    assert.equal(backoffDelay(20, backoff, () => 0), 15_000);
  });

  it("backs off further on each consecutive failure and resets once a connection is stable", () => {
    const { client, sockets, clock, named } = setup({ random: () => 1 });
    client.connect();
    for (let i = 0; i < 4; i += 1) {
      sockets.at(-1).serverClose(1006);
      clock.advance(named("reconnecting").at(-1).delayMs);
    }
    assert.deepEqual(
      named("reconnecting").map((r) => r.delayMs),
      [500, 1000, 2000, 4000],
    );
    assert.equal(named("refused").at(-1).consecutive, 4);
    sockets.at(-1).serverOpen();
    clock.advance(1_000); // open, but not yet stable: a drop keeps backing off
    sockets.at(-1).serverClose(1006);
    assert.equal(named("reconnecting").at(-1).delayMs, 8000);
    clock.advance(8000);
    sockets.at(-1).serverOpen();
    clock.advance(30_000);
    sockets.at(-1).serverClose(1006);
    assert.equal(named("reconnecting").at(-1).delayMs, 500);
  });
});

describe("messages", () => {
  function open(options) {
    const t = setup(options);
    t.client.connect();
    t.sockets[0].serverOpen();
    t.sockets[0].serverSync();
    t.send = (frame) => t.sockets[0].serverSend(frame);
    return t;
  }

  it("delivers incident messages with their key", () => {
    const { send, named } = open();
    send(message("INC-1", "100000000000000000001", { type: "incident.created" }));
    const [m] = named("message");
    assert.equal(m.type, "incident.created");
    assert.equal(m.incident.incidentId, "INC-1");
    assert.equal(m.key, incidentKey({ keys: { incidentId: "INC-1" } }));
  });

  it("drops a message whose eventId it has seen", () => {
    const { send, named, client } = open();
    send(message("INC-1", "10"));
    send(message("INC-1", "10"));
    assert.equal(named("message").length, 1);
    assert.equal(client.stats.duplicates, 1);
  });

  it("forgets the oldest eventIds beyond its capacity", () => {
    const set = new BoundedSet(3);
    for (const id of ["a", "b", "c", "d"]) set.add(id);
    assert.equal(set.size, 3);
    assert.equal(set.has("a"), false);
    assert.equal(set.has("d"), true);
    const { send, named } = open({ dedupeCapacity: 2, orderCapacity: 10 });
    send(message("INC-1", "1"));
    send(message("INC-2", "2"));
    send(message("INC-3", "3"));
    assert.equal(named("message").length, 3);
  });

  it("drops an update older than the newest seen for that incident, comparing as BigInt", () => {
    const { send, named } = open();
    // 2^64 + 2 and 2^64 + 1: equal as JavaScript numbers, ordered as BigInt.
    send(message("INC-1", "18446744073709551618", { eventId: "b" }));
    send(message("INC-1", "18446744073709551617", { eventId: "a" }));
    send(message("INC-2", "5", { eventId: "c" }));
    send(message("INC-1", "18446744073709551619", { eventId: "d" }));
    assert.deepEqual(
      named("message").map((m) => m.eventId),
      ["b", "c", "d"],
    );
    assert.equal(named("stale")[0].message.eventId, "a");
    assert.equal(named("stale")[0].newest, "18446744073709551618");
    // Sequence strings of different lengths compare numerically, not as text.
    send(message("INC-3", "9", { eventId: "e" }));
    send(message("INC-3", "10", { eventId: "f" }));
    assert.deepEqual(named("message").map((m) => m.eventId).slice(-2), ["e", "f"]);
  });

  it("orders by the record keys, whatever order their attributes come in", () => {
    const { send, named } = open();
    send(message("X", "20", { keys: { pk: "INCIDENT#X", sk: "META" }, eventId: "1" }));
    send(message("X", "19", { keys: { sk: "META", pk: "INCIDENT#X" }, eventId: "2" }));
    assert.equal(named("message").length, 1);
    assert.equal(named("stale").length, 1);
  });

  it("still delivers messages without a usable sequence", () => {
    const { send, named } = open();
    send(message("INC-1", "10", { eventId: "1" }));
    send(message("INC-1", undefined, { eventId: "2" }));
    send(message("INC-1", "12abc", { eventId: "3" }));
    assert.equal(named("message").length, 3);
    assert.equal(parseSequence("12abc"), null);
    assert.equal(parseSequence(12), null);
    assert.equal(parseSequence("007"), 7n);
  });

  it("unpacks batch frames in stream order, de-duplicating inside and across them", () => {
    const { send, named } = open();
    send(message("INC-1", "1", { eventId: "x" }));
    send({
      version: 1,
      type: "batch",
      messages: [
        message("INC-1", "1", { eventId: "x" }),
        message("INC-1", "2", { eventId: "y" }),
        message("INC-2", "3", { eventId: "z" }),
        message("INC-1", "4", { eventId: "w" }),
        message("INC-1", "2", { eventId: "y" }),
      ],
    });
    assert.deepEqual(
      named("message").map((m) => m.eventId),
      ["x", "y", "z", "w"],
    );
  });

  it("surfaces truncated messages separately, and they still advance the incident's order", () => {
    const { send, named, client } = open();
    send(message("INC-1", "10", { eventId: "1" }));
    const slim = {
      version: 1,
      type: "incident.updated",
      keys: { incidentId: "INC-1" },
      eventId: "2",
      sequence: "11",
      truncated: true,
    };
    send(slim);
    send(message("INC-1", "10", { eventId: "3" })); // older than the truncated one
    assert.equal(named("message").length, 1);
    const [t] = named("truncated");
    assert.equal(t.truncated, true);
    assert.equal(t.incident, undefined);
    assert.deepEqual(t.keys, { incidentId: "INC-1" });
    assert.equal(t.key, named("message")[0].key);
    assert.equal(client.stats.truncated, 1);
    assert.equal(named("stale").length, 1);
  });

  it("reports frames of another version or type instead of guessing", () => {
    const { send, named } = open();
    send({ ...message("INC-1", "1"), version: 2 });
    send({ ...message("INC-1", "2"), type: "incident.deleted" });
    assert.deepEqual(
      named("error").map((e) => e.kind),
      ["unsupported-version", "unknown-type"],
    );
    assert.equal(named("message").length, 0);
  });

  it("ignores frames from a connection it already let go", () => {
    const { client, sockets, named } = rotationDue();
    sockets[1].serverOpen();
    sockets[1].serverSync();
    const retired = sockets[0];
    assert.equal(retired.onmessage, null);
    sockets[1].serverSend(message("INC-1", "1"));
    assert.equal(named("message").length, 1);
  });
});
