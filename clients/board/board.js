// Live incident board: the incidents clients/js/realtime-client.js holds (synced on every open,
// then kept current by the stream), as a table sorted by urgency. Configuration comes from this
// page's query string:
//   url      the WebSocket URL, encoded (its own query string, e.g. a local identity, included)
//   token    optional; sent as the `token` query parameter, or as a subprotocol with tokenIn=protocol
//   tokenIn  "query" (default) or "protocol"
//   pingMs   keep-alive interval in ms (default: the library's, 4 minutes)
//   area     areas to show, comma-separated (default: all the token allows)
//   urgency  urgencies to show, comma-separated (default: all)
// The area and urgency filters are also in the header; changing them rewrites this URL (so a
// reload or a bookmark keeps them) and subscribes the client to the new filter.

import { RealtimeClient } from "../js/realtime-client.js";

const URGENCY_RANK = { critical: 4, high: 3, medium: 2, low: 1 };
// Statuses the notifier treats as an escalation by default (ESCALATION_STATUSES).
const ESCALATION_STATUSES = new Set(["escalated"]);
const CHANGE_HIGHLIGHT_MS = 4000;

// The filter fields the header sets, as URL parameters of the same name.
const FILTER_FIELDS = ["area", "urgency"];

const rank = (urgency) => URGENCY_RANK[String(urgency || "").trim().toLowerCase()] || 0;
const norm = (value) => String(value ?? "").trim().toLowerCase();

/** Board rows, most urgent first, then most recently changed, then by id. */
export function sortRows(rows) {
  return [...rows].sort(
    (a, b) =>
      rank(b.incident.urgency) - rank(a.incident.urgency) ||
      b.changedAt - a.changedAt ||
      String(a.id).localeCompare(String(b.id)),
  );
}

/** Why this change is an escalation ("" when it is not): status escalated, or urgency raised. */
export function escalation(previous, incident) {
  if (ESCALATION_STATUSES.has(norm(incident.status))) return "Escalated";
  if (previous && rank(incident.urgency) > rank(previous.urgency) && rank(previous.urgency) > 0) {
    return `Urgency raised from ${norm(previous.urgency)}`;
  }
  // A raise stays highlighted while the urgency stays where it was raised to.
  if (previous && previous.escalation && !ESCALATION_STATUSES.has(norm(previous.status)) &&
      rank(incident.urgency) === rank(previous.urgency)) {
    return previous.escalation;
  }
  return "";
}

function displayId(message) {
  const incident = message.incident || {};
  if (incident.incidentId) return String(incident.incidentId);
  const keys = message.keys || {};
  const first = Object.values(keys)[0];
  return first === undefined ? "?" : String(first).replace(/^INCIDENT#/, "");
}

function formatTime(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
}

class Board {
  constructor(doc, now = () => Date.now()) {
    this.doc = doc;
    this.now = now;
    this.rows = new Map(); // incident id -> row
    this.changed = new Set(); // ids to flash at the next render
    this.renderQueued = false;
    this.loaded = false; // the first sync is in: later snapshots are changes worth flashing
    this.tbody = doc.querySelector("#incidents tbody");
    this.status = doc.getElementById("status");
    this.statusText = doc.getElementById("status-text");
    this.notice = doc.getElementById("notice");
    this.counts = doc.getElementById("counts");
    this.empty = doc.getElementById("empty");
  }

  setStatus(state, text) {
    this.status.dataset.state = state;
    this.statusText.textContent = text;
  }

  setNotice(text) {
    this.notice.hidden = !text;
    this.notice.textContent = text || "";
  }

  apply(message) {
    const previous = this.rows.get(message.id);
    const incident = message.incident;
    const row = {
      key: message.id,
      id: displayId(message),
      incident,
      type: message.type,
      changedAt: this.now(),
      escalation: escalation(previous && { ...previous.incident, escalation: previous.escalation }, incident),
      truncated: false,
    };
    this.rows.set(message.id, row);
    // The first load is not a change: only flash what changes once the board is up.
    this.queueRender(this.loaded || message.type !== "incident.snapshot" ? message.id : undefined);
  }

  remove(id) {
    if (this.rows.delete(id)) this.queueRender();
  }

  markTruncated(message) {
    const previous = this.rows.get(message.id);
    const row = previous
      ? { ...previous, changedAt: this.now(), truncated: true }
      : {
          key: message.id,
          id: displayId(message),
          incident: { title: "(details too large for a live update)" },
          type: message.type,
          changedAt: this.now(),
          escalation: "",
          truncated: true,
        };
    this.rows.set(message.id, row);
    this.queueRender(message.id);
  }

  /** Renders once for all the changes of one frame (a sync answer is hundreds at a time). */
  queueRender(changedId) {
    if (changedId !== undefined) this.changed.add(changedId);
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      const changed = new Set(this.changed);
      this.changed.clear();
      this.render(changed);
    });
  }

  render(changed = new Set()) {
    const doc = this.doc;
    const rows = sortRows(this.rows.values());
    const fragment = doc.createDocumentFragment();
    for (const row of rows) {
      const incident = row.incident;
      const tr = doc.createElement("tr");
      tr.dataset.incidentId = row.id;
      tr.dataset.urgency = norm(incident.urgency) || "unknown";
      tr.dataset.status = norm(incident.status);
      if (row.escalation) tr.classList.add("escalated");
      if (row.truncated) tr.classList.add("truncated");
      if (changed.has(row.key)) tr.classList.add("changed");

      const urgency = doc.createElement("td");
      const chip = doc.createElement("span");
      chip.className = `urgency urgency-${tr.dataset.urgency}`;
      chip.textContent = norm(incident.urgency) || "unknown";
      urgency.append(chip);

      const what = doc.createElement("td");
      what.className = "what";
      const id = doc.createElement("span");
      id.className = "id";
      id.textContent = row.id;
      const title = doc.createElement("span");
      title.className = "title";
      title.textContent = incident.title || "(untitled)";
      what.append(id, title);
      if (row.escalation) {
        const badge = doc.createElement("span");
        badge.className = "badge";
        badge.textContent = row.escalation;
        what.append(badge);
      }
      if (row.truncated) {
        const note = doc.createElement("span");
        note.className = "note";
        note.textContent = "Changed; too large to send live: fetching the whole incident…";
        what.append(note);
      }

      const status = doc.createElement("td");
      status.className = "status";
      status.textContent = incident.status || "";

      const area = doc.createElement("td");
      area.textContent = incident.area || incident.type || "";

      const updated = doc.createElement("td");
      updated.className = "time";
      updated.textContent = formatTime(incident.updatedAt || incident.createdAt || row.changedAt);

      tr.append(urgency, what, status, area, updated);
      fragment.append(tr);
    }
    this.tbody.replaceChildren(fragment);
    this.empty.hidden = rows.length > 0;
    const escalated = rows.filter((row) => row.escalation).length;
    const critical = rows.filter((row) => rank(row.incident.urgency) === 4).length;
    this.counts.textContent =
      `${rows.length} incident${rows.length === 1 ? "" : "s"}` +
      (critical ? ` · ${critical} critical` : "") +
      (escalated ? ` · ${escalated} escalated` : "");
    if (changed.size > 0) {
      const win = doc.defaultView;
      win.clearTimeout(this.fadeTimer);
      this.fadeTimer = win.setTimeout(() => {
        for (const tr of this.tbody.querySelectorAll("tr.changed")) tr.classList.remove("changed");
      }, CHANGE_HIGHLIGHT_MS);
    }
  }
}

/** Comma-separated values of a URL parameter, trimmed, empty ones and repeats dropped. */
function listParam(params, name) {
  const values = (params.get(name) || "").split(",").map((value) => value.trim());
  return [...new Set(values.filter(Boolean))];
}

/** The subscription filter of the page's URL: {area: [...], urgency: [...]}, empty fields left out. */
export function filterFromQuery(search) {
  const params = new URLSearchParams(search);
  const filter = {};
  for (const field of FILTER_FIELDS) {
    const values = listParam(params, field);
    if (values.length) filter[field] = values;
  }
  return filter;
}

/** The page's query string with `filter` in it (the other parameters kept as they are). */
export function queryWithFilter(search, filter) {
  const params = new URLSearchParams(search);
  for (const field of FILTER_FIELDS) {
    if (filter[field] && filter[field].length) params.set(field, filter[field].join(","));
    else params.delete(field);
  }
  const query = params.toString();
  return query ? `?${query}` : "";
}

/** What the header says about the token's area patterns ("*" all, "north/*" north and below). */
export function describeAreas(areas) {
  if (areas.includes("*")) return "all areas";
  if (!areas.length) return "no areas";
  return areas.map((area) => (area.endsWith("/*") ? `${area.slice(0, -2)} (and below)` : area)).join(", ");
}

/** The header's filter controls, kept in step with the URL and the client's subscription. */
class FilterControls {
  constructor(doc, filter) {
    this.form = doc.getElementById("filters");
    this.area = doc.getElementById("filter-area");
    this.areaOptions = doc.getElementById("area-options");
    this.urgency = [...doc.querySelectorAll('#filter-urgency input[name="urgency"]')];
    this.allowed = doc.getElementById("areas-allowed");
    this.show(filter);
  }

  show(filter) {
    this.area.value = (filter.area || []).join(", ");
    const urgencies = new Set(filter.urgency || []);
    for (const box of this.urgency) box.checked = urgencies.has(box.value);
  }

  read() {
    const filter = {};
    const areas = [...new Set(this.area.value.split(",").map((value) => value.trim()).filter(Boolean))];
    if (areas.length) filter.area = areas;
    const urgencies = this.urgency.filter((box) => box.checked).map((box) => box.value);
    if (urgencies.length) filter.urgency = urgencies;
    return filter;
  }

  /** The server's answer: the token's areas (offered as choices when they are plain names). */
  showSubscription({ areas, narrowed }) {
    const doc = this.form.ownerDocument;
    this.allowed.textContent = `Allowed: ${describeAreas(areas)}${narrowed ? " · filter narrowed" : ""}`;
    this.allowed.dataset.areas = JSON.stringify(areas);
    this.allowed.dataset.narrowed = String(narrowed);
    const names = areas.filter((area) => area !== "*").map((area) => area.replace(/\/\*$/, ""));
    this.areaOptions.replaceChildren(
      ...names.map((name) => Object.assign(doc.createElement("option"), { value: name })),
    );
  }

  onChange(listener) {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      listener(this.read());
    });
    this.area.addEventListener("change", () => listener(this.read()));
    for (const box of this.urgency) box.addEventListener("change", () => listener(this.read()));
  }
}

function configFromQuery(search) {
  const params = new URLSearchParams(search);
  const pingMs = Number(params.get("pingMs"));
  return {
    url: params.get("url"),
    token: params.get("token") || undefined,
    tokenIn: params.get("tokenIn") || undefined,
    // The stack's authorizer reads the subprotocol pair ["bearer", <jwt>] (functions/README.md).
    protocols: params.get("tokenIn") === "protocol" ? ["bearer"] : undefined,
    pingIntervalMs: pingMs >= 1000 ? pingMs : undefined,
    filter: filterFromQuery(search),
  };
}

function start(win) {
  const doc = win.document;
  const board = new Board(doc);
  const config = configFromQuery(win.location.search);
  board.render();
  if (!config.url) {
    doc.getElementById("setup").hidden = false;
    board.setStatus("closed", "No stream URL");
    return null;
  }
  const controls = new FilterControls(doc, config.filter);
  // Always subscribed (`{}` is everything the token allows), so the answer says which areas
  // the token allows.
  const options = { url: config.url };
  for (const name of ["token", "tokenIn", "protocols", "pingIntervalMs", "filter"]) {
    if (config[name] !== undefined) options[name] = config[name];
  }
  let client;
  try {
    client = new RealtimeClient(options);
  } catch (error) {
    board.setStatus("closed", "Bad configuration");
    board.setNotice(String(error.message || error));
    return null;
  }
  const host = new URL(config.url).host;
  client.on("state", ({ state }) => {
    if (state === "connecting") board.setStatus("connecting", `Connecting to ${host}…`);
  });
  let gap = null; // {gapMs} of the reconnect whose catch-up is under way
  let syncProblem = false; // the notice says a sync failed
  client.on("connected", ({ reconnect, rotated, gapMs }) => {
    board.setStatus("open", "Live");
    gap = reconnect && !rotated && gapMs > 0 ? { gapMs } : null;
    if (!reconnect) board.setNotice("");
  });
  client.on("syncing", ({ kind }) => {
    if (kind === "incidents") return; // a fetch of a truncated incident: the board stays live
    board.setStatus("syncing", kind === "full" && !board.loaded ? "Loading incidents…" : "Catching up…");
  });
  client.on("synced", ({ kind, reset, changes }) => {
    if (kind === "incidents") return;
    board.setStatus("open", "Live");
    if (gap) {
      const seconds = Math.max(1, Math.round(gap.gapMs / 1000));
      const what = `${changes} change${changes === 1 ? "" : "s"}`;
      board.setNotice(
        reset
          ? `Reconnected after ${seconds} s without a connection: reloaded every incident (${what}).`
          : `Reconnected after ${seconds} s without a connection: caught up on ${what} made meanwhile.`,
      );
      gap = null;
    } else if (syncProblem) {
      board.setNotice("");
    }
    syncProblem = false;
    board.loaded = true;
  });
  client.on("disconnected", () => board.setStatus("reconnecting", "Connection lost"));
  client.on("refused", ({ rotation, consecutive }) => {
    if (rotation) return;
    board.setStatus(
      "refused",
      consecutive > 1 ? `Refused or unreachable (${consecutive} tries)` : "Refused or unreachable",
    );
    board.setNotice(
      "The server closed the connection before it opened: check the URL, the identity (userId " +
        "and role, or token) and that the stack is up.",
    );
  });
  client.on("reconnecting", ({ delayMs, attempt }) => {
    const state = board.status.dataset.state === "refused" ? "refused" : "reconnecting";
    const seconds = Math.max(1, Math.round(delayMs / 1000));
    const prefix = state === "refused" ? board.statusText.textContent : "Reconnecting";
    board.setStatus(state, `${prefix}; retrying in ${seconds} s (attempt ${attempt})`);
  });
  client.on("closed", () => board.setStatus("closed", "Disconnected"));
  client.on("subscribed", (subscription) => controls.showSubscription(subscription));
  controls.onChange((filter) => {
    win.history.replaceState(null, "", `${win.location.pathname}${queryWithFilter(win.location.search, filter)}`);
    client.subscribe(filter);
  });
  client.on("message", (message) => board.apply(message));
  client.on("removed", ({ id }) => board.remove(id));
  client.on("truncated", (message) => board.markTruncated(message));
  client.on("pong", () => {
    board.status.dataset.lastPong = String(Date.now());
  });
  client.on("error", (detail) => {
    if (detail.kind === "subscribe" && detail.reason === "bad_request") {
      // The server refused the filter (too many values): the board keeps showing the previous one.
      const kept = client.filter || {};
      controls.show(kept);
      win.history.replaceState(null, "", `${win.location.pathname}${queryWithFilter(win.location.search, kept)}`);
      board.setNotice(`Filter not applied: ${(detail.frame && detail.frame.message) || "refused by the server"}`);
    }
    if (detail.kind === "sync" && board.status.dataset.state === "syncing") {
      // Live messages flow again while the client waits to retry.
      board.setStatus("open", "Live");
      board.loaded = true;
      syncProblem = true;
      board.setNotice(
        detail.retryInMs === null
          ? "This stack does not answer sync requests: incidents show up as they change."
          : `Could not load the current incidents (${detail.reason}); trying again in ` +
              `${Math.max(1, Math.round(detail.retryInMs / 1000))} s.`,
      );
    }
    // Visible to whoever debugs the board; the stream goes on.
    win.console.warn("realtime client:", detail.kind, detail.frame || detail.error || "");
  });
  client.connect();
  win.realtimeBoard = { client, board };
  return client;
}

start(window);
