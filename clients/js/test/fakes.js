// Test doubles: a WebSocket constructor the test drives by hand, and a manual clock.

export class FakeClock {
  constructor(start = 1_000_000) {
    this.time = start;
    this.nextId = 1;
    this.timers = new Map(); // id -> { at, fn }
  }

  now() {
    return this.time;
  }

  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(id) {
    this.timers.delete(id);
  }

  /** Moves time forward by ms, running due timers in time order (and those they schedule). */
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (next === null || timer.at < next[1].at)) next = [id, timer];
      }
      if (next === null) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = end;
  }

  pending() {
    return [...this.timers.values()].map((timer) => timer.at - this.time).sort((a, b) => a - b);
  }
}

/** Returns a WebSocket class whose instances are recorded in `sockets`. */
export function fakeWebSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;

    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.protocol = "";
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      sockets.push(this);
    }

    send(data) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(data);
    }

    close(code, reason) {
      this.closedWith = { code, reason };
      this.readyState = 2;
    }

    // Driven by the test: what the server (or the network) does.
    serverOpen(protocol = "") {
      this.readyState = 1;
      this.protocol = protocol;
      this.onopen?.({});
    }

    serverSend(frame) {
      this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
    }

    /** The last sync request this socket sent (undefined when none). */
    lastSync() {
      return this.sentJson()
        .filter((m) => m.action === "sync")
        .at(-1);
    }

    /**
     * Answers the last sync request as the sync route does: the messages (one frame, a batch
     * when several), then sync.complete. `reset` defaults to what the server says for the
     * request: true for a full sync, false for a catch-up or a fetch by id.
     */
    serverSync(messages = [], { cursor = "cursor-1", reset, count } = {}) {
      const request = this.lastSync();
      if (!request) throw new Error("serverSync without a sync request");
      const full = request.since === undefined && request.incidents === undefined;
      if (messages.length === 1) this.serverSend(messages[0]);
      if (messages.length > 1) this.serverSend({ version: 1, type: "batch", messages });
      this.serverSend({
        version: 1,
        type: "sync.complete",
        cursor,
        reset: reset ?? full,
        count: count ?? messages.length,
      });
    }

    serverClose(code = 1006, reason = "", wasClean = false) {
      this.readyState = 3;
      this.onerror?.({});
      this.onclose?.({ code, reason, wasClean });
    }

    sentJson() {
      return this.sent.map((data) => JSON.parse(data));
    }
  }
  return { FakeWebSocket, sockets };
}

export const URL_ = "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod";

/**
 * A message about one incident as the stack sends it (docs/handlers.md): its `type`, the
 * incident's `keys`, an `eventId` and the stream `sequence`, plus `fields` (the `incident`, a
 * `truncated` flag, ...). Every test builds its messages here.
 */
export function incidentMessage(type, id, sequence, fields = {}) {
  return { version: 1, type, keys: { incidentId: id }, eventId: `ev-${id}-${sequence}`, sequence, ...fields };
}

/**
 * A RealtimeClient on a FakeWebSocket and a FakeClock (random() fixed at 0.5), recording the
 * events named in `eventNames` in order. `named(name)` lists one event's details; `socket()` is
 * the latest socket; `reconnect()` drops it and opens the next one after the client's backoff.
 */
export function clientHarness(RealtimeClient, eventNames, options = {}) {
  const clock = new FakeClock();
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const events = [];
  const client = new RealtimeClient({ url: URL_, WebSocket: FakeWebSocket, clock, random: () => 0.5, ...options });
  const reconnecting = [];
  client.on("reconnecting", (detail) => reconnecting.push(detail));
  for (const name of eventNames) {
    client.on(name, (detail) => events.push([name, detail]));
  }
  const named = (name) => events.filter(([n]) => n === name).map(([, d]) => d);
  const socket = () => sockets.at(-1);
  const reconnect = () => {
    const before = sockets.length;
    socket().serverClose(1006);
    clock.advance(reconnecting.at(-1).delayMs);
    if (sockets.length !== before + 1) throw new Error("the client did not open a new socket after its backoff");
    socket().serverOpen();
  };
  return { client, clock, sockets, socket, events, named, reconnect };
}
