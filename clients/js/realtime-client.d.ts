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

/** Sent instead of the full message when that would exceed 128 KB: fetch the incident. */
export interface TruncatedIncidentMessage extends IncidentMessageBase {
  incident?: undefined;
  truncated: true;
}

export type IncidentMessage = FullIncidentMessage | TruncatedIncidentMessage;

/** Several records in one frame, in stream order. */
export interface BatchFrame {
  version: 1;
  type: "batch";
  messages: IncidentMessage[];
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

export type ServerFrame = IncidentMessage | BatchFrame | PongFrame | ErrorFrame;

/** Client -> server. */
export interface PingRequest {
  action: "ping";
}

// ---------------------------------------------------------------------------
// Client API
// ---------------------------------------------------------------------------

export const PROTOCOL_VERSION: 1;
export const CLOSE_ROTATED: 4000;
export const CLOSE_PING_TIMEOUT: 4001;
export const CLOSE_CONNECT_TIMEOUT: 4002;

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
  /** Incidents whose newest sequence is remembered (default 10000). */
  orderCapacity?: number;
  /** Defaults to globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  clock?: Clock;
  /** Defaults to Math.random (jitter). */
  random?: () => number;
}

export type ClientState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** A delivered message: the contract's fields plus `key`, the incident's stable identity. */
export type Delivered<M extends IncidentMessage> = M & { key: string | null };

export interface ClientEvents {
  connected: {
    /** false for the first connection of this client. */
    reconnect: boolean;
    /** true when this replaced a live connection before the 2-hour cut (no gap). */
    rotated: boolean;
    /** ms without a connection before this one: messages of that time were missed, refetch. */
    gapMs: number;
    /** The subprotocol the server selected ("" when none). */
    protocol: string;
    at: number;
  };
  message: Delivered<FullIncidentMessage>;
  truncated: Delivered<TruncatedIncidentMessage>;
  /** An update older than (or as old as) the newest applied for its incident, dropped. */
  stale: { message: IncidentMessage; key: string; newest: string };
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
      | "listener";
    frame?: unknown;
    error?: unknown;
    data?: string;
    event?: string;
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
}

export class RealtimeClient {
  constructor(options: RealtimeClientOptions);
  readonly state: ClientState;
  readonly stats: ClientStats;
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

export const DEFAULTS: Readonly<Required<Omit<RealtimeClientOptions, "url" | "token" | "protocols" | "WebSocket" | "clock" | "random">>>;

export function incidentKey(message: { keys?: Record<string, JsonValue>; incident?: Incident }): string | null;
export function parseSequence(sequence: unknown): bigint | null;
export function connectionUrl(url: string, token?: string, tokenIn?: "query" | "protocol", tokenParam?: string): string;
export function connectionProtocols(
  token: string | undefined,
  tokenIn?: "query" | "protocol",
  protocols?: string[] | ((token: string | undefined) => string[]),
): string[];
export function backoffDelay(attempt: number, backoff: Required<BackoffOptions>, random: () => number): number;
