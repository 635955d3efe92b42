// Browser client for the realtime incident WebSocket: one dependency-free ES module.
//
// It keeps a connection alive through API Gateway's limits (closed after 10 minutes idle and
// after 2 hours in any case; https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html),
// reconnects with jittered exponential backoff, and turns the at-least-once stream of messages
// into what an app wants: each stream record once, and per incident never older than what it has.
// The message contract is in functions/README.md; the types in realtime-client.d.ts.

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
  orderCapacity: 10_000,
});

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

/** A stream sequence number as a BigInt, or null when it is not a decimal string. */
export function parseSequence(sequence) {
  if (typeof sequence !== "string" || !/^[0-9]{1,64}$/.test(sequence)) return null;
  return BigInt(sequence);
}

/** The URL to open: `url` with the token in the query string when tokenIn is "query". */
export function connectionUrl(url, token, tokenIn = DEFAULTS.tokenIn, tokenParam = DEFAULTS.tokenParam) {
  const parsed = new URL(url);
  if (!/^wss?:$/.test(parsed.protocol)) {
    throw new RealtimeClientError(`url must start with wss:// or ws://, not ${parsed.protocol}//`);
  }
  if (token && tokenIn === "query") parsed.searchParams.set(tokenParam, token);
  return parsed.toString();
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

/**
 * A resilient subscription to the incident stream.
 *
 * Events (`on(name, listener)`): connected, message, truncated, reconnecting, refused,
 * disconnected, pong, error, closed, state. See realtime-client.d.ts and README.md.
 */
export class RealtimeClient {
  constructor(options) {
    if (!options || !options.url) throw new RealtimeClientError("options.url is required");
    const WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    if (typeof WebSocketImpl !== "function") {
      throw new RealtimeClientError("no WebSocket implementation: pass options.WebSocket");
    }
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
    this.newest = new BoundedMap(this.options.orderCapacity);
    this.state = "idle";
    this.socket = null; // the connection messages are read from
    this.standby = null; // a replacement being opened before the 2-hour cut
    this.failures = 0; // consecutive attempts that did not stay up
    this.refusals = 0; // consecutive attempts closed before they opened
    this.connectedCount = 0;
    this.lastDisconnectAt = null;
    this.retryTimer = null;
    this.stats = { received: 0, delivered: 0, duplicates: 0, stale: 0, truncated: 0 };
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
    this.emit("closed", { code, reason });
  }

  /** Sends an application message (JSON-encoded) on the open connection; false when not open. */
  send(message) {
    const conn = this.socket;
    if (!conn || !conn.opened || conn.ws.readyState !== 1) return false;
    conn.ws.send(JSON.stringify(message));
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
    try {
      const { tokenIn, tokenParam, protocols } = this.options;
      const url = connectionUrl(this.options.url, token, tokenIn, tokenParam);
      const offered = connectionProtocols(token, tokenIn, protocols);
      ws = offered.length ? new this.WebSocket(url, offered) : new this.WebSocket(url);
    } catch (error) {
      this.openFailed(role, error);
      return;
    }
    const conn = { ws, role, opened: false, openedAt: null, timers: new Set(), pongDue: null };
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
      if (old) this.retire(old, CLOSE_ROTATED, "rotated before the 2-hour limit");
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
      return;
    }
    if (!frame || typeof frame !== "object") {
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
    if (frame.type === "error") {
      this.emit("error", { kind: "server", frame });
      return;
    }
    if (frame.type === "batch") {
      if (!Array.isArray(frame.messages)) {
        this.emit("error", { kind: "unexpected-frame", frame });
        return;
      }
      for (const message of frame.messages) this.handleMessage(message);
      return;
    }
    this.handleMessage(frame);
  }

  handleMessage(message) {
    if (!message || typeof message !== "object") return;
    if (message.version !== PROTOCOL_VERSION) {
      this.emit("error", { kind: "unsupported-version", frame: message });
      return;
    }
    if (message.type !== "incident.created" && message.type !== "incident.updated") {
      this.emit("error", { kind: "unknown-type", frame: message });
      return;
    }
    this.stats.received += 1;
    if (typeof message.eventId === "string") {
      if (this.seen.has(message.eventId)) {
        this.stats.duplicates += 1;
        return;
      }
      this.seen.add(message.eventId);
    }
    const key = incidentKey(message);
    const sequence = parseSequence(message.sequence);
    if (key !== null && sequence !== null) {
      const newest = this.newest.get(key);
      if (newest !== undefined && sequence <= newest) {
        this.stats.stale += 1;
        this.emit("stale", { message, key, newest: newest.toString() });
        return;
      }
      this.newest.set(key, sequence);
    }
    const detail = { ...message, key };
    if (message.truncated === true) {
      this.stats.truncated += 1;
      this.emit("truncated", detail);
      return;
    }
    this.stats.delivered += 1;
    this.emit("message", detail);
  }
}
