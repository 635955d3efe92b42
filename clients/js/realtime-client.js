// Browser client for the realtime incident WebSocket: one dependency-free ES module.
//
// It keeps a connection alive through API Gateway's limits (closed after 10 minutes idle and
// after 2 hours in any case; https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html),
// reconnects with jittered exponential backoff, and turns the at-least-once stream of messages
// into what an app wants: each stream record once, and per incident never older than what it has.
// It holds the incidents themselves (`incidents`, a Map by incident id): on every open it asks
// the `sync` route for the state (everything the first time, the changes since its last cursor
// after that), buffers live messages until `sync.complete`, and merges both by `sequence`.
// With a filter (`subscribe(filter)`, or the `filter` option) it asks the server for only the
// incidents that match it: the filter goes in the connect URL and as a `subscribe` message sent
// on every open before the sync, and a changed filter is followed by a full sync.
// The message contract is in functions/README.md and docs/handlers.md; the types in
// realtime-client.d.ts.

export const PROTOCOL_VERSION = 1;

// Closing codes this client uses itself (4000-4999 are free for applications).
export const CLOSE_ROTATED = 4000; // replaced by a fresh connection before the 2-hour cut
export const CLOSE_PING_TIMEOUT = 4001; // no pong in time: the connection is presumed dead
export const CLOSE_CONNECT_TIMEOUT = 4002; // the handshake did not finish in time

const MINUTE = 60_000;

export const DEFAULTS = Object.freeze({
  tokenIn: "query",
  tokenParam: "token",
  // Any traffic resets API Gateway's 10-minute idle timer; 4 minutes leaves room for a missed one.
  pingIntervalMs: 4 * MINUTE,
  // 0 = do not expect pongs. A positive value closes and replaces a connection whose pong did
  // not arrive within that time (a half-open connection otherwise looks alive for hours).
  pongTimeoutMs: 0,
  // Rotate before API Gateway's 2-hour cut; each connection picks a moment in the last 10% of
  // this age, so many clients started together do not reconnect together.
  maxConnectionAgeMs: 110 * MINUTE,
  connectTimeoutMs: 15_000,
  backoff: Object.freeze({ initialMs: 500, maxMs: 30_000, factor: 2 }),
  // A connection that stayed open this long resets the backoff to its first step.
  stableAfterMs: 30_000,
  dedupeCapacity: 10_000,
  // Removed incidents whose last sequence is remembered (so a late, older update cannot bring
  // one back). The incidents held are not bounded: they are the server's state for this view.
  orderCapacity: 10_000,
  // Sync on every open (false: live messages only, as against a stack without the sync route).
  sync: true,
  // A sync that makes no progress for this long is given up (the buffer applied) and retried.
  syncTimeoutMs: 30_000,
});

// The sync route takes at most this many ids per request (docs/handlers.md).
export const MAX_SYNC_IDS = 100;
// An oversize incident comes in parts of at most 128 KB; DynamoDB items are at most 400 KB, so
// a handful of parts is the most a valid message has. More is refused rather than buffered.
export const MAX_PARTS = 64;
const MAX_OPEN_PART_SETS = 8;

const LIVE_TYPES = new Set(["incident.created", "incident.updated", "incident.removed", "incident.left"]);
// The incident is gone from this connection's view: removed, or no longer matching its filter.
const REMOVAL_TYPES = new Set(["incident.removed", "incident.left"]);
const ANSWER_TYPES = new Set(["incident.snapshot", "incident.removed"]);

// A subprotocol must be an HTTP token (RFC 6455 section 4.1, RFC 7230 section 3.2.6).
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export class RealtimeClientError extends Error {}

/** Bounded set that forgets the oldest entries first. */
export class BoundedSet {
  constructor(capacity) {
    if (!(capacity > 0)) throw new RealtimeClientError("capacity must be a positive number");
    this.capacity = capacity;
    this.items = new Set();
  }

  has(value) {
    return this.items.has(value);
  }

  add(value) {
    if (this.items.has(value)) return;
    this.items.add(value);
    if (this.items.size > this.capacity) {
      this.items.delete(this.items.values().next().value);
    }
  }

  get size() {
    return this.items.size;
  }
}

/** Bounded map (least recently written entries are forgotten first). */
class BoundedMap {
  constructor(capacity) {
    this.capacity = capacity;
    this.items = new Map();
  }

  get(key) {
    return this.items.get(key);
  }

  delete(key) {
    this.items.delete(key);
  }

  set(key, value) {
    this.items.delete(key);
    this.items.set(key, value);
    if (this.items.size > this.capacity) {
      this.items.delete(this.items.keys().next().value);
    }
  }
}

/** The stable identity of an incident: its `keys`, canonically, else its incidentId. */
export function incidentKey(message) {
  const keys = message && message.keys;
  if (keys && typeof keys === "object" && Object.keys(keys).length > 0) {
    return JSON.stringify(
      Object.keys(keys)
        .sort()
        .map((name) => [name, keys[name]]),
    );
  }
  const id = message && message.incident && message.incident.incidentId;
  return id === undefined ? null : JSON.stringify([["incidentId", id]]);
}

/**
 * The server's incident id (what `{"action":"sync","incidents":[...]}` sends): the key's value as
 * text for a one-attribute key, the values in attribute-name order joined by "|" for a
 * composite key; without keys, the incident's incidentId. null when there is neither.
 */
export function incidentId(message) {
  const keys = message && message.keys;
  if (keys && typeof keys === "object" && Object.keys(keys).length > 0) {
    return Object.keys(keys)
      .sort()
      .map((name) => keyText(keys[name]))
      .join("|");
  }
  const id = message && message.incident && message.incident.incidentId;
  return id === undefined || id === null ? null : String(id);
}

function keyText(value) {
  // Integral numbers in full (no exponent), as the server writes them.
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value).toString();
  return String(value);
}

/** A stream sequence number as a BigInt, or null when it is not a decimal string. */
export function parseSequence(sequence) {
  if (typeof sequence !== "string" || !/^[0-9]{1,64}$/.test(sequence)) return null;
  return BigInt(sequence);
}

// The $connect query parameter that carries a filter (URL-encoded JSON), so a connection is
// subscribed from its first message on.
export const FILTER_PARAM = "filter";

/**
 * The URL to open: `url` with the token in the query string when tokenIn is "query", and the
 * filter as JSON in the `filter` parameter (left out when null or `{}`, which $connect assumes).
 */
export function connectionUrl(
  url,
  token,
  tokenIn = DEFAULTS.tokenIn,
  tokenParam = DEFAULTS.tokenParam,
  filter = null,
) {
  const parsed = new URL(url);
  if (!/^wss?:$/.test(parsed.protocol)) {
    throw new RealtimeClientError(`url must start with wss:// or ws://, not ${parsed.protocol}//`);
  }
  if (token && tokenIn === "query") parsed.searchParams.set(tokenParam, token);
  if (filter && Object.keys(filter).length > 0) parsed.searchParams.set(FILTER_PARAM, JSON.stringify(filter));
  return parsed.toString();
}

/**
 * A copy of a subscription filter (field -> list of exact string values; `{}` = everything the
 * token allows), or a RealtimeClientError saying what is wrong with its shape. Which fields are
 * filterable and how many values fit are the server's to say: it answers `bad_request`.
 */
export function checkFilter(filter) {
  if (!filter || typeof filter !== "object" || Array.isArray(filter)) {
    throw new RealtimeClientError('a filter is an object of field -> list of values, like {"area": ["north"]}');
  }
  const copy = {};
  for (const [field, values] of Object.entries(filter)) {
    if (!Array.isArray(values) || !values.every((value) => typeof value === "string")) {
      throw new RealtimeClientError(`filter field ${JSON.stringify(field)} must be a list of strings, like ["north"]`);
    }
    copy[field] = [...values];
  }
  return copy;
}

/** The subprotocols to offer: `protocols` (a list, or a function of the token), plus the token. */
export function connectionProtocols(token, tokenIn = DEFAULTS.tokenIn, protocols = undefined) {
  let list;
  if (typeof protocols === "function") {
    list = protocols(tokenIn === "protocol" ? token : undefined);
  } else {
    list = [...(protocols || [])];
    if (token && tokenIn === "protocol") list.push(token);
  }
  for (const protocol of list) {
    if (typeof protocol !== "string" || !HTTP_TOKEN.test(protocol)) {
      throw new RealtimeClientError(
        "a subprotocol must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~; no '=', " +
          "spaces or commas): encode the token (base64url without padding) or send it with " +
          'tokenIn: "query"',
      );
    }
  }
  return list;
}

const isEmpty = (filter) => Object.keys(filter).length === 0;

/** Backoff delay for the n-th consecutive failed attempt (n >= 1): "equal jitter". */
export function backoffDelay(attempt, backoff, random) {
  const cap = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

const realClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

const maxSequence = (...values) =>
  values.reduce((a, b) => (b === null || b === undefined ? a : a === null || b > a ? b : a), null);

/**
 * A resilient subscription to the incident stream, holding the incidents it has received.
 *
 * Events (`on(name, listener)`): connected, syncing, synced, message, removed, truncated, stale,
 * reconnecting, refused, disconnected, pong, error, closed, state. See realtime-client.d.ts and
 * README.md.
 */
export class RealtimeClient {
  constructor(options) {
    if (!options || !options.url) throw new RealtimeClientError("options.url is required");
    const WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    if (options.syncTimeoutMs !== undefined && !(options.syncTimeoutMs > 0)) {
      throw new RealtimeClientError("syncTimeoutMs must be a positive number of milliseconds");
    }
    if (typeof WebSocketImpl !== "function") {
      throw new RealtimeClientError("no WebSocket implementation: pass options.WebSocket");
    }
    const filter = options.filter === undefined || options.filter === null ? null : checkFilter(options.filter);
    if (options.tokenIn !== undefined && !["query", "protocol"].includes(options.tokenIn)) {
      throw new RealtimeClientError('tokenIn must be "query" or "protocol"');
    }
    this.options = {
      ...DEFAULTS,
      ...options,
      backoff: { ...DEFAULTS.backoff, ...(options.backoff || {}) },
    };
    if (!(this.options.pingIntervalMs > 0 && this.options.pingIntervalMs < 10 * MINUTE)) {
      throw new RealtimeClientError(
        "pingIntervalMs must be between 0 and 600000 (API Gateway closes a connection after 10 minutes idle)",
      );
    }
    if (!(this.options.maxConnectionAgeMs > 0 && this.options.maxConnectionAgeMs < 120 * MINUTE)) {
      throw new RealtimeClientError(
        "maxConnectionAgeMs must be below 7200000 (API Gateway closes every connection after 2 hours)",
      );
    }
    // Fail now, not at the first connection, on a URL or subprotocol that cannot work.
    if (typeof this.options.token !== "function") {
      connectionUrl(this.options.url, this.options.token, this.options.tokenIn, this.options.tokenParam);
      connectionProtocols(this.options.token, this.options.tokenIn, this.options.protocols);
    }
    this.WebSocket = WebSocketImpl;
    this.clock = options.clock || realClock;
    this.random = options.random || Math.random;
    this.listeners = new Map();
    this.seen = new BoundedSet(this.options.dedupeCapacity);
    this.incidents = new Map(); // incident id -> { id, key, keys, incident, sequence, ... }
    this.removedAt = new BoundedMap(this.options.orderCapacity); // incident id -> sequence
    this.cursor = null; // from the last sync.complete of a full or since sync
    this.syncing = null; // the sync in flight: at most one per connection at a time
    this.wantedIds = new Set(); // ids to fetch with {"action":"sync","incidents":[...]}
    this.filter = filter; // what the app asked for (null: no filter sent, the server's default)
    this.subscription = null; // the last `subscribed` answer: { filter, narrowed, areas }
    this.acceptedFilter = null; // the filter that answer was for
    this.state = "idle";
    this.socket = null; // the connection messages are read from
    this.standby = null; // a replacement being opened before the 2-hour cut
    this.failures = 0; // consecutive attempts that did not stay up
    this.refusals = 0; // consecutive attempts closed before they opened
    this.connectedCount = 0;
    this.lastDisconnectAt = null;
    this.retryTimer = null;
    this.stats = {
      received: 0,
      delivered: 0,
      duplicates: 0,
      stale: 0,
      truncated: 0,
      removed: 0,
      left: 0,
      syncs: 0,
    };
  }

  on(name, listener) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(listener);
    return () => this.off(name, listener);
  }

  off(name, listener) {
    const set = this.listeners.get(name);
    if (set) set.delete(listener);
  }

  emit(name, detail) {
    for (const listener of [...(this.listeners.get(name) || [])]) {
      try {
        listener(detail);
      } catch (error) {
        // One app listener's bug must not stop delivery to the others or break the client.
        if (name !== "error") this.emit("error", { kind: "listener", event: name, error });
      }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", { state });
  }

  /** Opens the connection (and keeps it open until close()). Returns the client. */
  connect() {
    if (this.state === "closed") throw new RealtimeClientError("this client was closed; make a new one");
    if (this.state !== "idle") return this;
    this.open("primary");
    return this;
  }

  /** Closes for good: no reconnect. */
  close(code = 1000, reason = "client closed") {
    if (this.state === "closed") return;
    this.setState("closed");
    this.clearRetry();
    for (const conn of [this.socket, this.standby]) {
      if (conn) this.retire(conn, code, reason);
    }
    this.socket = null;
    this.standby = null;
    this.syncing = null;
    this.emit("closed", { code, reason });
  }

  /** Sends an application message (JSON-encoded) on the open connection; false when not open. */
  send(message) {
    const conn = this.socket;
    if (!conn || !conn.opened || conn.ws.readyState !== 1) return false;
    conn.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Asks for only the incidents that match `filter` (field -> list of values; `{}` = all the
   * token allows). Sent now when a connection is open (then a full sync replaces what is held),
   * and on every later open before the sync. Returns true when sent now.
   */
  subscribe(filter) {
    if (this.state === "closed") throw new RealtimeClientError("this client was closed; make a new one");
    this.filter = checkFilter(filter);
    const conn = this.socket;
    if (!conn || !conn.opened || conn.ws.readyState !== 1) return false;
    if (conn.subscribing || this.syncing) {
      // One request at a time, so answers cannot be confused: sent when the one in flight ends.
      conn.subscribeQueued = true;
      return true;
    }
    this.sendSubscribe(conn, true);
    return true;
  }

  open(role) {
    if (role === "primary") this.setState(this.connectedCount ? "reconnecting" : "connecting");
    const { token } = this.options;
    if (typeof token !== "function") {
      this.openWith(role, token);
      return;
    }
    // A token function is asked again for every connection, so a refreshed token is used.
    Promise.resolve()
      .then(() => token())
      .then(
        (value) => this.openWith(role, value),
        (error) => this.openFailed(role, error),
      );
  }

  openFailed(role, error) {
    if (this.state === "closed") return;
    this.emit("error", { kind: "connect", error });
    if (role === "primary") this.scheduleReconnect({ reason: "connect-error" });
  }

  openWith(role, token) {
    if (this.state === "closed") return;
    let ws;
    let connFilter = null;
    try {
      const { tokenIn, tokenParam, protocols } = this.options;
      // $connect refuses a filter it cannot take (400), which a browser cannot tell from any
      // other refusal: after a refusal, a filter the server has not accepted yet is left out of
      // the URL, so the subscribe message is what carries it (and its bad_request is reported).
      const urlFilter = this.refusals > 0 && this.filter !== this.acceptedFilter ? null : this.filter;
      const url = connectionUrl(this.options.url, token, tokenIn, tokenParam, urlFilter);
      connFilter = urlFilter;
      const offered = connectionProtocols(token, tokenIn, protocols);
      ws = offered.length ? new this.WebSocket(url, offered) : new this.WebSocket(url);
    } catch (error) {
      this.openFailed(role, error);
      return;
    }
    const conn = {
      ws,
      role,
      opened: false,
      openedAt: null,
      timers: new Set(),
      pongDue: null,
      parts: new Map(), // partId -> { count, chunks, got }
      syncFailures: 0,
      syncGaveUp: false,
      subscribing: null, // the subscribe in flight: { filter, changed, timer }
      subscribeQueued: false, // subscribe() was called while a request was in flight
      subscribeGaveUp: false, // the stack has no subscribe route
      urlFilter: connFilter, // the filter $connect was given (the row starts with it)
      resync: false, // a full sync is due once the sync in flight ends (the filter changed)
      owesSync: false, // opened (or a sync failed) and no full or catch-up sync sent since
    };
    if (role === "primary") this.socket = conn;
    else this.standby = conn;
    this.later(conn, this.options.connectTimeoutMs, () => {
      if (!conn.opened) this.retire(conn, CLOSE_CONNECT_TIMEOUT, "connect timeout", true);
    });
    ws.onopen = () => this.handleOpen(conn);
    ws.onmessage = (event) => this.handleFrame(conn, event.data);
    ws.onclose = (event) => this.handleClose(conn, event.code, event.reason, event.wasClean);
    ws.onerror = () => {
      // Browsers give no detail here; the close event that always follows carries what we know.
    };
  }

  later(conn, ms, fn) {
    const id = this.clock.setTimeout(() => {
      conn.timers.delete(id);
      fn();
    }, ms);
    conn.timers.add(id);
    return id;
  }

  clearTimers(conn) {
    for (const id of conn.timers) this.clock.clearTimeout(id);
    conn.timers.clear();
  }

  clearRetry() {
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  // Stops listening to a connection and closes it. `asClose` runs the close handling at once
  // (for sockets that may never report their close, like one stuck in the handshake).
  retire(conn, code, reason, asClose = false) {
    this.clearTimers(conn);
    const { ws } = conn;
    if (!asClose) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    }
    try {
      if (ws.readyState === 0 || ws.readyState === 1) ws.close(code, reason);
    } catch {
      // Already closing: nothing more to do.
    }
    if (asClose) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      this.handleClose(conn, code, reason, false);
    }
  }

  handleOpen(conn) {
    conn.opened = true;
    conn.openedAt = this.clock.now();
    this.clearTimers(conn);
    this.refusals = 0;
    const rotated = conn.role === "standby";
    if (rotated) {
      // The replacement is up: read from it, then let the old connection go. Messages seen on
      // both during the overlap are dropped as duplicates.
      const old = this.socket;
      this.socket = conn;
      this.standby = null;
      conn.role = "primary";
      if (old) {
        this.retire(old, CLOSE_ROTATED, "rotated before the 2-hour limit");
        this.abandonSync(old);
      }
    }
    this.schedulePing(conn);
    const age = this.options.maxConnectionAgeMs;
    this.later(conn, Math.round(age * (0.9 + 0.1 * this.random())), () => this.rotate(conn));
    this.later(conn, this.options.stableAfterMs, () => {
      this.failures = 0;
    });
    const reconnect = this.connectedCount > 0;
    this.connectedCount += 1;
    const gapMs = !rotated && this.lastDisconnectAt !== null ? conn.openedAt - this.lastDisconnectAt : 0;
    this.setState("open");
    this.emit("connected", {
      reconnect,
      rotated,
      gapMs,
      protocol: conn.ws.protocol || "",
      at: conn.openedAt,
    });
    if (conn !== this.socket || this.state !== "open") return;
    // The subscription first: the sync must be answered for this filter.
    conn.owesSync = true;
    // Subscribed without the filter at connect (left out after a refusal): live messages from
    // outside it may have arrived, so the state is synced in full for it.
    if (this.filter !== null) this.sendSubscribe(conn, conn.urlFilter !== this.filter && !isEmpty(this.filter));
    else if (this.options.sync) this.startSync(conn);
  }

  // -- subscription -----------------------------------------------------------------------------

  /**
   * Sends {"action":"subscribe","filter":...}; the sync waits for its answer (or its timeout).
   * `changed`: the filter differs from what this connection's state was synced for, so what is
   * held is replaced by a full sync (a catch-up would miss incidents that now match).
   */
  sendSubscribe(conn, changed) {
    if (conn.subscribeGaveUp) {
      this.emit("error", { kind: "subscribe", reason: "unsupported", filter: this.filter });
      this.nextRequest(conn, false);
      return;
    }
    const filter = this.filter;
    const pending = { filter, changed, timer: null };
    conn.subscribing = pending;
    conn.subscribeQueued = false;
    conn.ws.send(JSON.stringify({ action: "subscribe", filter }));
    pending.timer = this.later(conn, this.options.syncTimeoutMs, () => {
      pending.timer = null;
      if (conn.subscribing !== pending) return;
      this.emit("error", { kind: "subscribe", reason: "timeout", filter });
      this.subscribeEnded(conn, pending);
    });
  }

  handleSubscribed(conn, message) {
    const pending = conn.subscribing;
    this.subscription = {
      filter: message.filter && typeof message.filter === "object" ? message.filter : {},
      narrowed: message.narrowed === true,
      areas: Array.isArray(message.areas) ? message.areas : [],
    };
    this.acceptedFilter = pending ? pending.filter : this.filter;
    this.emit("subscribed", { ...this.subscription, requested: this.acceptedFilter });
    if (pending) this.subscribeEnded(conn, pending);
  }

  /** An error frame while a subscribe is in flight (and so no sync is): the subscribe's answer. */
  subscribeError(conn, frame) {
    const pending = conn.subscribing;
    if (frame.type !== "error") {
      // API Gateway's "Internal server error": the subscribe's answer is not coming.
      this.emit("error", { kind: "subscribe", reason: "server-error", frame, filter: pending.filter });
    } else if (frame.error === "unknown_action") {
      // The $default route's reply: this stack has no subscribe route (everything is sent).
      conn.subscribeGaveUp = true;
      this.emit("error", { kind: "subscribe", reason: "unsupported", frame, filter: pending.filter });
    } else {
      // Refused (a filter over the server's limits): the connection keeps its previous
      // subscription, and so does the client, so the next connect does not carry it again.
      this.filter = this.acceptedFilter;
      this.emit("error", { kind: "subscribe", reason: "bad_request", frame, filter: pending.filter });
    }
    this.subscribeEnded(conn, pending, false);
  }

  subscribeEnded(conn, pending, accepted = true) {
    if (pending.timer !== null) {
      this.clock.clearTimeout(pending.timer);
      conn.timers.delete(pending.timer);
    }
    conn.subscribing = null;
    if (conn.subscribeQueued) {
      // subscribe() was called meanwhile: that filter now (the sync still waits for it).
      this.sendSubscribe(conn, true);
      return;
    }
    this.nextRequest(conn, pending.changed && accepted);
  }

  /**
   * After a subscribe: the sync this connection owes. A changed filter gets a full sync (its
   * reset drops what no longer matches; a catch-up would miss what now matches).
   */
  nextRequest(conn, changed) {
    if (conn !== this.socket || this.state !== "open" || !this.options.sync) return;
    if (changed) {
      this.cursor = null;
      conn.owesSync = true;
    }
    if (this.syncing) {
      if (changed) conn.resync = true;
      return;
    }
    if (conn.owesSync) this.startSync(conn);
    else this.requestWanted(conn);
  }

  /** A sync ended on this connection: what was waiting for it (a subscribe, a resync, ids). */
  afterSync(conn) {
    if (conn !== this.socket || this.state !== "open" || this.syncing) return;
    if (conn.subscribeQueued && !conn.subscribing) {
      this.sendSubscribe(conn, true);
      return;
    }
    if ((conn.resync || conn.owesSync) && !conn.subscribing) {
      conn.resync = false;
      this.startSync(conn);
      return;
    }
    this.requestWanted(conn);
  }

  schedulePing(conn) {
    this.later(conn, this.options.pingIntervalMs, () => {
      if (conn.ws.readyState !== 1) return;
      conn.ws.send(JSON.stringify({ action: "ping" }));
      if (this.options.pongTimeoutMs > 0 && conn.pongDue === null) {
        conn.pongDue = this.later(conn, this.options.pongTimeoutMs, () => {
          this.retire(conn, CLOSE_PING_TIMEOUT, "no pong", true);
        });
      }
      this.schedulePing(conn);
    });
  }

  rotate(conn) {
    if (this.state === "closed" || conn !== this.socket || this.standby) return;
    this.open("standby");
  }

  handleClose(conn, code, reason, wasClean) {
    this.clearTimers(conn);
    this.abandonSync(conn);
    if (this.state === "closed") return;
    if (conn === this.standby) {
      // The replacement failed; the current connection serves until it ends.
      this.standby = null;
      if (!conn.opened) this.emit("refused", { code, reason, rotation: true, consecutive: this.refusals });
      return;
    }
    if (conn !== this.socket) return;
    this.socket = null;
    if (conn.opened) {
      this.lastDisconnectAt = this.clock.now();
      if (conn.openedAt !== null && this.lastDisconnectAt - conn.openedAt >= this.options.stableAfterMs) {
        this.failures = 0;
      }
      this.emit("disconnected", { code, reason, wasClean: Boolean(wasClean) });
    } else {
      // Closed before it opened. A browser reports a refused handshake ($connect answered 401 or
      // 403, an authorizer's Deny) and an unreachable server alike: close 1006, no open.
      this.refusals += 1;
      this.emit("refused", { code, reason, rotation: false, consecutive: this.refusals });
      if (this.state === "closed") return;
    }
    if (this.standby) {
      // A replacement is already on its way: it becomes the connection.
      const next = this.standby;
      this.standby = null;
      next.role = "primary";
      this.socket = next;
      this.setState("reconnecting");
      return;
    }
    this.scheduleReconnect({ reason: conn.opened ? "closed" : "refused", code });
  }

  scheduleReconnect({ reason, code }) {
    if (this.state === "closed") return;
    this.failures += 1;
    const delayMs = backoffDelay(this.failures, this.options.backoff, this.random);
    this.setState("reconnecting");
    this.emit("reconnecting", { attempt: this.failures, delayMs, reason, code });
    if (this.state === "closed") return;
    this.clearRetry();
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== "closed") this.open("primary");
    }, delayMs);
  }

  handleFrame(conn, data) {
    if (conn !== this.socket && conn !== this.standby) return;
    if (typeof data !== "string") {
      this.emit("error", { kind: "binary-frame" });
      return;
    }
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (error) {
      this.emit("error", { kind: "parse", error, data: data.slice(0, 200) });
      // A route whose integration failed may answer in plain text (the local emulator sends the
      // Lambda's error message): the sync in flight is not coming.
      if (this.syncing && this.syncing.conn === conn) this.syncFailed(conn, "server-error");
      return;
    }
    this.handleParsed(conn, frame);
    this.requestWanted(conn);
  }

  handleParsed(conn, frame) {
    if (!frame || typeof frame !== "object" || Array.isArray(frame)) {
      this.emit("error", { kind: "unexpected-frame", frame });
      return;
    }
    if (frame.type === "pong") {
      if (conn.pongDue !== null) {
        this.clock.clearTimeout(conn.pongDue);
        conn.timers.delete(conn.pongDue);
        conn.pongDue = null;
      }
      this.emit("pong", { frame });
      return;
    }
    // A subscribe and a sync are never in flight together on a connection, so an error
    // answers whichever is.
    if (frame.type === "error") {
      this.emit("error", { kind: "server", frame });
      if (conn.subscribing) this.subscribeError(conn, frame);
      else this.syncError(conn, frame);
      return;
    }
    if (frame.type === undefined && typeof frame.message === "string") {
      // API Gateway's own reply when a route's integration failed ({"message": "Internal server
      // error", "connectionId": ..., "requestId": ...}): the request in flight is not coming.
      this.emit("error", { kind: "server", frame });
      if (conn.subscribing) this.subscribeError(conn, frame);
      else if (this.syncing && this.syncing.conn === conn) this.syncFailed(conn, "server-error");
      return;
    }
    if (frame.type === "batch") {
      if (!Array.isArray(frame.messages)) {
        this.emit("error", { kind: "unexpected-frame", frame });
        return;
      }
      for (const message of frame.messages) this.handleMessage(conn, message);
      return;
    }
    this.handleMessage(conn, frame);
  }

  handleMessage(conn, message) {
    if (!message || typeof message !== "object") return;
    if (message.version !== PROTOCOL_VERSION) {
      this.emit("error", { kind: "unsupported-version", frame: message });
      return;
    }
    if (message.type === "incident.part") {
      this.handlePart(conn, message);
      return;
    }
    if (message.type === "sync.complete") {
      this.completeSync(conn, message);
      return;
    }
    if (message.type === "subscribed") {
      this.handleSubscribed(conn, message);
      return;
    }
    const sync = this.syncing && this.syncing.conn === conn ? this.syncing : null;
    if (ANSWER_TYPES.has(message.type) && sync && message.type !== "incident.removed") {
      this.applyAnswer(sync, message);
      return;
    }
    if (REMOVAL_TYPES.has(message.type) && sync && sync.kind !== "incidents") {
      // A tombstone of the answer, or a live removal meanwhile: a removal either way.
      this.applyAnswer(sync, message);
      return;
    }
    if (message.type === "incident.snapshot") {
      // A snapshot outside a sync (a late frame of an abandoned one): still the server's state.
      this.applyAnswer(null, message);
      return;
    }
    if (!LIVE_TYPES.has(message.type)) {
      this.emit("error", { kind: "unknown-type", frame: message });
      return;
    }
    if (sync && sync.kind !== "incidents") {
      // Live messages wait for the answer: a `reset` must not drop what arrived meanwhile.
      sync.buffer.push(message);
      this.touchSync(conn, sync);
      return;
    }
    this.applyLive(message);
  }

  // -- incident state -------------------------------------------------------------------------

  /** A live message: once per eventId, and only when newer than all that is known of it. */
  applyLive(message) {
    this.stats.received += 1;
    if (typeof message.eventId === "string") {
      if (this.seen.has(message.eventId)) {
        this.stats.duplicates += 1;
        return;
      }
      this.seen.add(message.eventId);
    }
    const id = incidentId(message);
    const key = incidentKey(message);
    const sequence = parseSequence(message.sequence);
    const entry = id === null ? undefined : this.incidents.get(id);
    if (id !== null && sequence !== null) {
      const newest = maxSequence(
        entry ? entry.seq : null,
        entry ? entry.truncatedSeq : null,
        this.removedAt.get(id) ?? null,
      );
      if (newest !== null && sequence <= newest) {
        if (sequence === newest) {
          this.stats.duplicates += 1;
        } else {
          this.stats.stale += 1;
          this.emit("stale", { message, key, id, newest: newest.toString() });
        }
        return;
      }
    }
    if (message.truncated === true) {
      this.stats.truncated += 1;
      if (id !== null) {
        const placeholder = entry || {
          id,
          key,
          keys: message.keys,
          incident: null,
          type: message.type,
          eventId: null,
          sequence: null,
          seq: null,
        };
        this.incidents.set(id, { ...placeholder, truncated: true, truncatedSeq: sequence });
        this.wantedIds.add(id);
      }
      this.emit("truncated", { ...message, key, id });
      return;
    }
    this.applyChange(id, key, message, sequence);
  }

  /** A message of a sync answer: the server's state, merged by sequence (equal = duplicate). */
  applyAnswer(sync, message) {
    this.stats.received += 1;
    const id = incidentId(message);
    if (id === null) {
      this.emit("error", { kind: "unexpected-frame", frame: message });
      return;
    }
    if (sync) {
      sync.answered.add(id);
      this.touchSync(sync.conn, sync);
    }
    if (typeof message.eventId === "string") this.seen.add(message.eventId);
    const sequence = parseSequence(message.sequence);
    const entry = this.incidents.get(id);
    // The state is newer than any live message posted before it was read, so a held truncated
    // marker does not count here: only the body held does.
    const held = maxSequence(entry ? entry.seq : null, this.removedAt.get(id) ?? null);
    if (sequence !== null && held !== null && sequence <= held) {
      if (sequence === held) this.stats.duplicates += 1;
      else this.stats.stale += 1;
      return;
    }
    if (this.applyChange(id, incidentKey(message), message, sequence) && sync) sync.changes += 1;
  }

  /** Stores (or removes) an incident and tells the app; true when what is held changed. */
  applyChange(id, key, message, sequence) {
    const detail = { ...message, key, id };
    if (REMOVAL_TYPES.has(message.type)) {
      // Removed, or left this connection's filter: the same order rules (a later change that
      // matches again is newer, so it comes back).
      if (id === null) return false;
      this.removedAt.set(id, sequence);
      this.wantedIds.delete(id);
      const entry = this.incidents.get(id);
      if (!entry) return false;
      this.incidents.delete(id);
      const left = message.type === "incident.left";
      this.stats[left ? "left" : "removed"] += 1;
      this.emit("removed", { ...detail, reason: left ? "left" : "removed", incident: entry.incident });
      return true;
    }
    if (id !== null) {
      const previous = this.incidents.get(id);
      this.removedAt.delete(id);
      this.wantedIds.delete(id);
      this.incidents.set(id, {
        id,
        key,
        keys: message.keys,
        incident: message.incident,
        type: message.type,
        eventId: message.eventId ?? null,
        sequence: typeof message.sequence === "string" ? message.sequence : null,
        // A message without a usable sequence keeps the order known so far.
        seq: sequence ?? (previous ? previous.seq : null),
        truncated: false,
        truncatedSeq: null,
      });
    }
    this.stats.delivered += 1;
    this.emit("message", detail);
    return true;
  }

  // -- parts of an oversize incident ------------------------------------------------------------

  handlePart(conn, part) {
    const { partId, index, count, chunk } = part;
    const valid =
      typeof partId === "string" &&
      Number.isInteger(count) &&
      count >= 1 &&
      count <= MAX_PARTS &&
      Number.isInteger(index) &&
      index >= 0 &&
      index < count &&
      typeof chunk === "string";
    const set = valid ? conn.parts.get(partId) : undefined;
    if (!valid || (set && (set.count !== count || set.chunks[index] !== undefined))) {
      if (typeof partId === "string") conn.parts.delete(partId);
      this.emit("error", { kind: "part", frame: { ...part, chunk: undefined } });
      return;
    }
    let current = set;
    if (!current) {
      current = { count, chunks: new Array(count), got: 0 };
      conn.parts.set(partId, current);
      if (conn.parts.size > MAX_OPEN_PART_SETS) {
        const oldest = conn.parts.keys().next().value;
        conn.parts.delete(oldest);
        this.emit("error", { kind: "part", frame: { partId: oldest }, error: "never completed" });
      }
    }
    current.chunks[index] = chunk;
    current.got += 1;
    if (this.syncing && this.syncing.conn === conn) this.touchSync(conn, this.syncing);
    if (current.got < count) return;
    conn.parts.delete(partId);
    let whole;
    try {
      whole = JSON.parse(current.chunks.join(""));
    } catch (error) {
      this.emit("error", { kind: "part", frame: { partId, count }, error });
      return;
    }
    this.handleParsed(conn, whole);
  }

  // -- sync -------------------------------------------------------------------------------------

  /** The request of a full or catch-up sync: since the last cursor when there is one. */
  stateRequest() {
    return this.cursor === null ? { action: "sync" } : { action: "sync", since: this.cursor };
  }

  startSync(conn, request = this.stateRequest()) {
    if (conn.ws.readyState !== 1 || conn.syncGaveUp) return;
    const kind = request.incidents ? "incidents" : request.since !== undefined ? "since" : "full";
    const sync = { conn, request, kind, buffer: [], answered: new Set(), changes: 0, timer: null };
    this.syncing = sync;
    if (kind !== "incidents") conn.owesSync = false;
    this.stats.syncs += 1;
    conn.ws.send(JSON.stringify(request));
    this.touchSync(conn, sync);
    this.emit("syncing", {
      kind,
      since: request.since,
      incidents: request.incidents ? [...request.incidents] : undefined,
    });
  }

  /** Restarts the no-progress timer of the sync in flight. */
  touchSync(conn, sync) {
    if (sync.timer !== null) {
      this.clock.clearTimeout(sync.timer);
      conn.timers.delete(sync.timer);
    }
    sync.timer = this.later(conn, this.options.syncTimeoutMs, () => {
      sync.timer = null;
      if (this.syncing === sync) this.syncFailed(conn, "timeout");
    });
  }

  /** Ends the sync in flight, its buffered live messages applied; returns it (or null). */
  endSync(conn) {
    const sync = this.syncing;
    if (!sync || sync.conn !== conn) return null;
    this.syncing = null;
    if (sync.timer !== null) {
      this.clock.clearTimeout(sync.timer);
      conn.timers.delete(sync.timer);
    }
    for (const message of sync.buffer) this.applyLive(message);
    return sync;
  }

  /** The connection ended or was replaced: keep what its sync buffered, forget its parts. */
  abandonSync(conn) {
    conn.parts.clear();
    const sync = this.endSync(conn);
    if (sync && sync.kind === "incidents") for (const id of sync.request.incidents) this.wantedIds.add(id);
  }

  completeSync(conn, frame) {
    const sync = this.syncing && this.syncing.conn === conn ? this.syncing : null;
    if (!sync) {
      this.emit("error", { kind: "unexpected-frame", frame });
      return;
    }
    conn.syncFailures = 0;
    const reset = frame.reset === true && sync.kind !== "incidents";
    if (sync.kind !== "incidents" && typeof frame.cursor === "string") this.cursor = frame.cursor;
    if (reset) {
      // "This was everything": drop what is held that the answer did not name.
      for (const [id, entry] of [...this.incidents]) {
        if (sync.answered.has(id)) continue;
        this.incidents.delete(id);
        this.stats.removed += 1;
        sync.changes += 1;
        this.emit("removed", {
          id,
          key: entry.key,
          keys: entry.keys,
          reason: "reset",
          incident: entry.incident,
        });
      }
    }
    this.endSync(conn);
    this.emit("synced", {
      kind: sync.kind,
      reset,
      count: Number.isInteger(frame.count) ? frame.count : sync.answered.size,
      changes: sync.changes,
      cursor: this.cursor,
    });
    this.afterSync(conn);
  }

  /** An error frame: the answer to the sync in flight when it is about syncs. */
  syncError(conn, frame) {
    const sync = this.syncing && this.syncing.conn === conn ? this.syncing : null;
    if (!sync) return;
    if (frame.code === "sync_throttled") {
      const wait = Number(frame.retryAfterMs);
      this.syncFailed(conn, "throttled", Number.isFinite(wait) && wait >= 0 ? wait : undefined);
    } else if (frame.code === "bad_request") {
      this.syncFailed(conn, "bad_request");
    } else if (frame.error === "unknown_action") {
      // The $default route's reply: this stack has no sync route. Live messages only.
      this.syncFailed(conn, "unsupported");
    }
  }

  /**
   * The sync in flight will not complete: apply what it buffered and try again later (after
   * retryAfterMs when throttled, with backoff otherwise). A request the server calls malformed
   * is not sent again: a catch-up falls back to a full sync, a fetch by id drops those ids.
   */
  syncFailed(conn, reason, retryAfterMs) {
    const sync = this.endSync(conn);
    if (!sync) return;
    let retry = true;
    if (reason === "unsupported") {
      conn.syncGaveUp = true;
      retry = false;
    } else if (reason === "bad_request") {
      if (sync.kind === "since") this.cursor = null;
      else retry = false;
      if (sync.kind === "full") conn.syncGaveUp = true;
    } else if (sync.kind === "incidents") {
      for (const id of sync.request.incidents) this.wantedIds.add(id);
    }
    let delayMs = null;
    if (retry) {
      conn.syncFailures += 1;
      delayMs =
        retryAfterMs !== undefined
          ? retryAfterMs + Math.round(this.random() * Math.min(1000, retryAfterMs / 10))
          : backoffDelay(conn.syncFailures, this.options.backoff, this.random);
    }
    this.emit("error", { kind: "sync", reason, request: sync.request, retryInMs: delayMs });
    if (delayMs === null) {
      this.afterSync(conn);
      return;
    }
    if (sync.kind !== "incidents") conn.owesSync = true;
    if (conn.subscribeQueued) this.afterSync(conn); // the subscribe's sync replaces the retry
    this.later(conn, delayMs, () => {
      if (conn !== this.socket || this.state !== "open" || this.syncing || conn.subscribing) return;
      // A failed catch-up is asked again as a whole (the cursor may have moved on meanwhile).
      if (sync.kind === "incidents") this.requestWanted(conn);
      else if (conn.owesSync) this.startSync(conn);
    });
  }

  /** Fetches the incidents whose live message was truncated, up to 100 ids per request. */
  requestWanted(conn) {
    if (!this.options.sync || this.wantedIds.size === 0 || this.syncing || conn.subscribing) return;
    if (conn !== this.socket || this.state !== "open" || conn.syncGaveUp) return;
    const ids = [...this.wantedIds].slice(0, MAX_SYNC_IDS);
    for (const id of ids) this.wantedIds.delete(id);
    this.startSync(conn, { action: "sync", incidents: ids });
  }
}
