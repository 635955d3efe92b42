// Types for realtime-client.js and the WebSocket message contract (functions/README.md).

// ---------------------------------------------------------------------------
// Message contract (server -> client)
// ---------------------------------------------------------------------------

export type Urgency = "low" | "medium" | "high" | "critical";

/** JSON as the broadcaster writes it from a DynamoDB image. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The incident: the stream record's whole new image as plain JSON. The attributes below are the
 * ones the platform writes; the Incidents table belongs to another team, so any may be missing
 * and others may appear.
 */
export interface Incident {
  incidentId?: string;
  title?: string;
  /** low < medium < high < critical; other values may appear and should be shown as they are. */
  urgency?: Urgency | string;
  /** open, acknowledged, escalated, resolved, ... (escalation statuses are configurable). */
  status?: string;
  type?: string;
  area?: string;
  location?: { lat: number; lon: number } | JsonValue;
  units?: string[];
  createdAt?: string;
  updatedAt?: string;
  [attribute: string]: JsonValue | undefined;
}

interface IncidentMessageBase {
  version: 1;
  type: "incident.created" | "incident.updated";
  /** The stream record's Keys (the Incidents table's key schema, not assumed). */
  keys: Record<string, JsonValue>;
  /** The stream record's eventID: the same record delivered twice has the same eventId. */
  eventId: string;
  /** The record's SequenceNumber as a decimal string (compare as BigInt, never as number). */
  sequence: string;
}

export interface FullIncidentMessage extends IncidentMessageBase {
  incident: Incident;
  truncated?: undefined;
}

/** Sent instead of the full message when that would exceed 128 KB; the client fetches the incident
 *  with a sync by id ({"action":"sync","incidents":[id]}). */
export interface TruncatedIncidentMessage extends IncidentMessageBase {
  incident?: undefined;
  truncated: true;
}

export type IncidentMessage = FullIncidentMessage | TruncatedIncidentMessage;

/** A REMOVE record (live), or a tombstone in a sync answer: the incident is gone. No `incident`. */
export interface IncidentRemovedMessage {
  version: 1;
  type: "incident.removed";
  keys: Record<string, JsonValue>;
  eventId: string;
  sequence: string;
}

/**
 * The incident no longer matches this connection's filter (its area or urgency changed): sent
 * once to a connection whose filter matched the old image and not the new one. No `incident`.
 * Ordered like the other messages; a later change that matches again arrives as an update.
 */
export interface IncidentLeftMessage {
  version: 1;
  type: "incident.left";
  keys: Record<string, JsonValue>;
  eventId: string;
  sequence: string;
}

/**
 * A subscription filter: field -> exact values (any of them matches); a field left out matches
 * anything; `{}` is everything the token allows. The filterable fields and the limits (values
 * per field, size) are the stack's settings: a filter over them is answered with `bad_request`.
 */
export type Filter = Record<string, string[]>;

/** The answer to {"action":"subscribe"}: what the connection now receives. */
export interface SubscribedFrame {
  version: 1;
  type: "subscribed";
  /** The effective filter: what was asked, intersected with what the token allows. */
  filter: Filter;
  /** true when the effective filter is narrower than what was asked. */
  narrowed: boolean;
  /** The token's area patterns: "*" (all), "north" (exact), "north/*" (north and below it). */
  areas: string[];
}

/**
 * A sync answer's incident: the state the server holds (the connection's role view), with the
 * keys, eventId and sequence of the change that produced it. Backfilled state has sequence "0"
 * (any stream record is newer).
 */
export interface IncidentSnapshotMessage {
  version: 1;
  type: "incident.snapshot";
  incident: Incident;
  keys: Record<string, JsonValue>;
  eventId: string;
  sequence: string;
}

/**
 * One part of a message over 128 KB (a sync answer's oversize incident), in consecutive frames:
 * the `chunk`s of index 0..count-1 concatenated are the whole message's JSON.
 */
export interface IncidentPartFrame {
  version: 1;
  type: "incident.part";
  partId: string;
  index: number;
  count: number;
  chunk: string;
}

/** Ends a sync answer. `reset`: the answer was everything; drop what it did not name. */
export interface SyncCompleteFrame {
  version: 1;
  type: "sync.complete";
  /** Opaque: send it back as `since` to catch up from here. */
  cursor: string;
  reset: boolean;
  /** Messages in the answer. */
  count: number;
}

export type AnyIncidentMessage =
  | IncidentMessage
  | IncidentRemovedMessage
  | IncidentLeftMessage
  | IncidentSnapshotMessage;

/** Several messages in one frame, in order. */
export interface BatchFrame {
  version: 1;
  type: "batch";
  messages: AnyIncidentMessage[];
}

/** The answer to {"action": "ping"} (the ping route, no Lambda). */
export interface PongFrame {
  type: "pong";
  [field: string]: JsonValue;
}

/** The $default route's answer to a message whose action no route handles. */
export interface ErrorFrame {
  type: "error";
  error: string;
  [field: string]: JsonValue;
}

/** The sync or subscribe route's refusal: a malformed request (a filter over the limits), or
 *  more full syncs than the stack allows. */
export interface SyncErrorFrame {
  version: 1;
  type: "error";
  code: "bad_request" | "sync_throttled";
  message: string;
  /** Only for sync_throttled: ask again after this long. */
  retryAfterMs?: number;
}

export type ServerFrame =
  | AnyIncidentMessage
  | BatchFrame
  | IncidentPartFrame
  | SyncCompleteFrame
  | SubscribedFrame
  | PongFrame
  | ErrorFrame
  | SyncErrorFrame;

/** Client -> server. */
export interface PingRequest {
  action: "ping";
}

/**
 * Client -> server: everything (answered with reset: true), the changes since a cursor (reset:
 * true when the cursor is older than the retention or unreadable), or particular incidents by id
 * (1..100 ids, see incidentId()). The client sends these itself.
 */
export type SyncRequest =
  | { action: "sync" }
  | { action: "sync"; since: string }
  | { action: "sync"; incidents: string[] };

/** Client -> server: receive only the incidents that match (the client sends it itself). */
export interface SubscribeRequest {
  action: "subscribe";
  filter: Filter;
}

// ---------------------------------------------------------------------------
// Client API
// ---------------------------------------------------------------------------

export const PROTOCOL_VERSION: 1;
export const CLOSE_ROTATED: 4000;
export const CLOSE_PING_TIMEOUT: 4001;
export const CLOSE_CONNECT_TIMEOUT: 4002;
/** Most ids in one {"action":"sync","incidents":[...]} request. */
export const MAX_SYNC_IDS: 100;
/** Most parts of one message the client assembles. */
export const MAX_PARTS: 64;
/** The $connect query parameter that carries the filter (JSON). */
export const FILTER_PARAM: "filter";

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export interface BackoffOptions {
  /** First delay's upper bound, ms (default 500). */
  initialMs?: number;
  /** Largest delay, ms (default 30000). */
  maxMs?: number;
  /** Growth per consecutive failure (default 2). */
  factor?: number;
}

/** Anything constructed like the browser's WebSocket. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

export interface RealtimeClientOptions {
  /** wss://<api>.execute-api.<region>.amazonaws.com/<stage>, query string allowed. */
  url: string;
  /** A token, or a function asked before every connection (so it can refresh). */
  token?: string | (() => string | Promise<string>);
  /** "query" (default): ?<tokenParam>=<token>. "protocol": offered as a WebSocket subprotocol. */
  tokenIn?: "query" | "protocol";
  /** Query parameter name for tokenIn "query" (default "token"). */
  tokenParam?: string;
  /** Subprotocols to offer: a list (the token is appended for tokenIn "protocol"), or a
   *  function of the token (undefined unless tokenIn is "protocol") returning the whole list. */
  protocols?: string[] | ((token: string | undefined) => string[]);
  /** Keep-alive ping interval, ms; below 10 minutes (default 240000). */
  pingIntervalMs?: number;
  /** Close and replace a connection whose pong is this late, ms; 0 = off (default). */
  pongTimeoutMs?: number;
  /** Replace a connection after 90-100% of this age, ms; below 2 hours (default 6600000). */
  maxConnectionAgeMs?: number;
  /** Give up on a handshake after this long, ms (default 15000). */
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** A connection open this long resets the backoff, ms (default 30000). */
  stableAfterMs?: number;
  /** eventIds remembered for de-duplication (default 10000). */
  dedupeCapacity?: number;
  /** Removed incidents whose sequence is remembered, so a late older update cannot bring one
   *  back (default 10000). The incidents held are not bounded: they are the server's state. */
  orderCapacity?: number;
  /** Sync on every open (default true); false: live messages only (a stack without the route). */
  sync?: boolean;
  /** A sync with no progress for this long is given up (buffer applied) and retried (default 30000). */
  syncTimeoutMs?: number;
  /** Subscribe to this filter from the first connection on (default: none sent, the server's
   *  default: all the token allows). Same as calling subscribe() before connect(). */
  filter?: Filter | null;
  /** Defaults to globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  clock?: Clock;
  /** Defaults to Math.random (jitter). */
  random?: () => number;
}

export type ClientState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** A delivered message: the contract's fields plus `key` (a stable string for the incident's
 *  keys) and `id` (the server's incident id, see incidentId()). */
export type Delivered<M> = M & { key: string | null; id: string | null };

/** What the client holds for one incident (client.incidents, by id). */
export interface IncidentEntry {
  id: string;
  key: string | null;
  keys: Record<string, JsonValue> | undefined;
  /** null for an incident known only from a truncated message (being fetched). */
  incident: Incident | null;
  type: "incident.created" | "incident.updated" | "incident.snapshot";
  eventId: string | null;
  /** The sequence of the change `incident` comes from. */
  sequence: string | null;
  /** A newer change was too large to send live; the client is fetching it by id. */
  truncated: boolean;
}

export type SyncKind = "full" | "since" | "incidents";

export interface ClientEvents {
  connected: {
    /** false for the first connection of this client. */
    reconnect: boolean;
    /** true when this replaced a live connection before the 2-hour cut (no gap). */
    rotated: boolean;
    /** ms without a connection before this one (the sync that follows catches up on it). */
    gapMs: number;
    /** The subprotocol the server selected ("" when none). */
    protocol: string;
    at: number;
  };
  /** A sync request was sent (on every open; and to fetch truncated incidents by id). */
  syncing: { kind: SyncKind; since?: string; incidents?: string[] };
  /** sync.complete arrived and was applied (with the live messages buffered meanwhile).
   *  `count`: messages in the answer (the server's count); `changes`: incidents the answer
   *  added, changed or removed here (reset drops included). */
  synced: { kind: SyncKind; reset: boolean; count: number; changes: number; cursor: string | null };
  /** An incident was stored: a live change or a sync answer's snapshot newer than what was held. */
  message: Delivered<FullIncidentMessage | IncidentSnapshotMessage>;
  /** An incident was dropped: removed (a REMOVE record or tombstone), left the filter
   *  (incident.left), or not in a reset answer. `incident` is the last one held. */
  removed: {
    id: string;
    key: string | null;
    keys?: Record<string, JsonValue>;
    reason: "removed" | "left" | "reset";
    incident: Incident | null;
    eventId?: string;
    sequence?: string;
  };
  /** The server answered a subscribe: the effective filter, whether it was narrowed, and the
   *  areas the token allows. `requested`: the filter that was asked. */
  subscribed: { filter: Filter; narrowed: boolean; areas: string[]; requested: Filter | null };
  /** A live change too large to send; the client fetches it with a sync by id. */
  truncated: Delivered<TruncatedIncidentMessage>;
  /** An update older than the newest known for its incident, dropped. */
  stale: { message: AnyIncidentMessage; key: string | null; id: string; newest: string };
  /** Closed before it opened: refused at $connect (401/403, authorizer Deny), unreachable, or
   *  the handshake timed out; a browser cannot tell these apart. */
  refused: { code: number; reason: string; rotation: boolean; consecutive: number };
  /** An open connection ended. */
  disconnected: { code: number; reason: string; wasClean: boolean };
  reconnecting: { attempt: number; delayMs: number; reason: string; code?: number };
  pong: { frame: PongFrame };
  error: {
    kind:
      | "server"
      | "parse"
      | "binary-frame"
      | "unexpected-frame"
      | "unsupported-version"
      | "unknown-type"
      | "connect"
      | "listener"
      | "part"
      | "sync"
      | "subscribe";
    frame?: unknown;
    error?: unknown;
    data?: string;
    event?: string;
    /** kind "sync": why the sync in flight ended without sync.complete. kind "subscribe": why
     *  the subscribe got no `subscribed` (bad_request: refused, the previous filter stays;
     *  unsupported: the stack has no subscribe route; timeout, server-error: no answer). */
    reason?: "throttled" | "bad_request" | "unsupported" | "timeout" | "server-error";
    request?: SyncRequest;
    /** kind "subscribe": the filter that was asked. */
    filter?: Filter | null;
    /** kind "sync": when it is asked again (null: not again on this connection). */
    retryInMs?: number | null;
  };
  closed: { code: number; reason: string };
  state: { state: ClientState };
}

export interface ClientStats {
  received: number;
  delivered: number;
  duplicates: number;
  stale: number;
  truncated: number;
  removed: number;
  /** Incidents dropped because they left the filter (incident.left). */
  left: number;
  syncs: number;
}

export class RealtimeClient {
  constructor(options: RealtimeClientOptions);
  readonly state: ClientState;
  readonly stats: ClientStats;
  /** The incidents held, by incident id: render from here. */
  readonly incidents: ReadonlyMap<string, IncidentEntry>;
  /** The cursor of the last full or catch-up sync (null before the first). */
  readonly cursor: string | null;
  /** The filter asked for (null: none). */
  readonly filter: Filter | null;
  /** The last `subscribed` answer (null before one). */
  readonly subscription: { filter: Filter; narrowed: boolean; areas: string[] } | null;
  /** Receive only what matches `filter` (shape checked here, limits by the server). Sent now
   *  when open (then a full sync replaces what is held) and on every later open before the
   *  sync; true when sent (or queued behind the request in flight) now. */
  subscribe(filter: Filter): boolean;
  connect(): this;
  close(code?: number, reason?: string): void;
  /** Sends a JSON message on the open connection; false when none is open. */
  send(message: object): boolean;
  /** Returns a function that removes the listener. */
  on<K extends keyof ClientEvents>(name: K, listener: (detail: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(name: K, listener: (detail: ClientEvents[K]) => void): void;
}

export class RealtimeClientError extends Error {}

export class BoundedSet<T> {
  constructor(capacity: number);
  has(value: T): boolean;
  add(value: T): void;
  readonly size: number;
}

export const DEFAULTS: Readonly<Required<Omit<RealtimeClientOptions, "url" | "token" | "protocols" | "filter" | "WebSocket" | "clock" | "random">>>;

export function incidentId(message: { keys?: Record<string, JsonValue>; incident?: Incident }): string | null;
export function incidentKey(message: { keys?: Record<string, JsonValue>; incident?: Incident }): string | null;
export function parseSequence(sequence: unknown): bigint | null;
export function connectionUrl(
  url: string,
  token?: string,
  tokenIn?: "query" | "protocol",
  tokenParam?: string,
  filter?: Filter | null,
): string;
/** A copy of the filter; throws RealtimeClientError when it is not field -> list of strings. */
export function checkFilter(filter: unknown): Filter;
export function connectionProtocols(
  token: string | undefined,
  tokenIn?: "query" | "protocol",
  protocols?: string[] | ((token: string | undefined) => string[]),
): string[];
export function backoffDelay(attempt: number, backoff: Required<BackoffOptions>, random: () => number): number;
