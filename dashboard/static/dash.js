// The dashboard's page: it listens to api/events (Server-Sent Events) and
// draws what it hears. Nothing here trusts the server's strings as markup:
// every text goes in with textContent.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PHASES = ["start", "recheck", "quiesce", "transfer", "restore", "commit"];
const COLORS = { start: "#8fb3d9", recheck: "#a7c98f", quiesce: "#e6c35c", transfer: "#e39b5b", restore: "#c98fc2", commit: "#6fbf8a" };

const $ = (id) => document.getElementById(id);
const state = {
  pid: 0,          // the process this page hears now
  sessions: [],    // its sessions
  drop: new Set(), // variables to leave out of the next migration
  graph: null,     // {id, data}: the graph drawn
  mig: null,       // the migration drawn: see onMigration
};

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function ms(ns) {
  const v = ns / 1e6;
  return v < 10 ? v.toFixed(2) + " ms" : v < 1000 ? v.toFixed(1) + " ms" : (v / 1000).toFixed(2) + " s";
}

function mib(bytes) { return bytes ? (bytes / 1048576).toFixed(0) + " MiB" : "-"; }

// --- the process and its sessions ---

function onStatus(st) {
  const moved = state.pid && st.pid !== state.pid;
  state.pid = st.pid;
  $("pid").textContent = st.pid;
  $("version").textContent = st.version;
  $("pred").textContent = st.predecessor ? `took over from pid ${st.predecessor.pid} (${st.predecessor.version})` : "";
  if (moved && state.mig && state.mig.outcome && state.mig.outcome.ok) {
    $("outcome").textContent += ` Reconnected: this page now hears pid ${st.pid} (${st.version}).`;
  }
  const known = new Set(state.sessions.map((s) => s.id));
  state.sessions = st.sessions;
  const body = document.querySelector("#sessions tbody");
  body.replaceChildren();
  for (const s of st.sessions) {
    const tr = document.createElement("tr");
    tr.dataset.id = s.id;
    if (!known.has(s.id)) tr.className = "new";
    const since = s.user ? new Date(s.since).toLocaleTimeString() : "";
    for (const v of [s.id, s.user || "(logging in)", s.addr, since, s.state, s.worker || "-", mib(s.memory)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    const td = document.createElement("td");
    if (s.user) {
      const b = document.createElement("button");
      b.textContent = "graph";
      b.className = "graph";
      b.onclick = () => loadGraph(s.id);
      td.append(b);
      // A watch of the session, read only, in the browser terminal: only
      // where this dashboard is served beside it (--web).
      if (st.terminal) {
        const a = document.createElement("a");
        a.textContent = "watch";
        a.className = "watch";
        a.href = st.terminal + "?watch=" + encodeURIComponent(s.id);
        a.target = "_blank";
        a.rel = "noopener";
        a.title = "open the terminal, log in, and watch this session read only (:watch " + s.id + "; its user must :share it unless you are an admin)";
        td.append(a);
      }
    }
    tr.append(td);
    body.append(tr);
  }
  $("no-sessions").hidden = st.sessions.length > 0;
  $("no-watch").hidden = !!st.terminal || st.sessions.length === 0;
  // The graph drawn was the old process's: draw the new one's.
  if (moved && state.graph && st.sessions.some((s) => s.id === state.graph.id)) loadGraph(state.graph.id);
}

// --- a migration, drawn as it happens ---

function onMigration(m) {
  state.mig = { started: m, t0: performance.now(), phases: [], still: {}, outcome: null };
  $("outcome").className = "note";
  $("outcome").textContent = `Migrating pid ${m.old.pid} (${m.old.version}) to ${m.binary}` +
    (m.drop.length ? `, dropping ${m.drop.join(", ")}` : "") + "…";
  animate();
}

function onPhase(p) {
  if (!state.mig) return; // the page opened during a migration
  state.mig.phases.push(p);
}

function onPaused(p) {
  if (!state.mig) return;
  for (const s of p.sessions) state.mig.still[s.id] = s.still;
}

function onOutcome(o) {
  if (!state.mig) return;
  state.mig.outcome = o;
  const out = $("outcome");
  if (o.ok) {
    out.className = "ok";
    out.textContent = `Migrated: new pid ${o.new.pid} (${o.new.version}), ${o.sessions.length} session(s) moved, longest pause ${ms(o.pause)}.`;
    if (o.notCarried && o.notCarried.length) out.textContent += ` Not carried: ${o.notCarried.join("; ")}.`;
  } else {
    out.className = "failed";
    out.textContent = `Rolled back, every session goes on in pid ${state.mig.started.old.pid}: ${o.error}`;
  }
  drawTimeline();
}

let frame = 0;
function animate() {
  cancelAnimationFrame(frame);
  drawTimeline();
  if (state.mig && !state.mig.outcome) frame = requestAnimationFrame(animate);
}

// drawTimeline draws the migration's phases on a time axis; under it the
// pause (the phases from quiesce to commit) on an axis of its own, since
// starting the new process takes most of the time and the pause little;
// one row per session with the pause it saw, on that second axis; and on
// the right the sessions moving from the old process to the new one.
function drawTimeline() {
  const svg = $("timeline");
  svg.replaceChildren();
  const m = state.mig;
  if (!m) return;
  const o = m.outcome;
  const sessions = m.started.sessions.filter((s) => s.user);
  const left = 120, width = 600, row = 24, top = 8;
  svg.setAttribute("width", left + width + 300);
  svg.setAttribute("height", top + row * (2 + sessions.length) + 10);
  const last = m.phases.length ? m.phases[m.phases.length - 1].at : 0;
  const now = o ? o.at : Math.max(last, (performance.now() - m.t0) * 1e6);
  // The pause begins where the phases before quiesce end.
  const recheck = m.phases.find((p) => p.name === "recheck");
  const pauseFrom = recheck ? recheck.at : null;

  const bars = (y, from, to, phases, label) => {
    const x = (ns) => left + (width * (ns - from)) / Math.max(to - from, 1);
    svg.append(el("text", { x: 4, y: y + 15 }, label));
    let at = from;
    for (const p of phases) {
      const g = el("g", { class: "phase", "data-phase": p.name });
      g.append(el("rect", { x: x(at), y, width: Math.max(x(p.at) - x(at), 1), height: row - 6, fill: COLORS[p.name] || "#bbb" }));
      g.append(el("title", {}, `${p.name}: ${ms(p.ns)}`));
      if (x(p.at) - x(at) > 70) g.append(el("text", { x: x(at) + 3, y: y + 13 }, `${p.name} ${ms(p.ns)}`));
      else if (x(p.at) - x(at) > 30) g.append(el("text", { x: x(at) + 3, y: y + 13 }, p.name));
      svg.append(g);
      at = p.at;
    }
    if (!o) { // the phase under way
      const done = m.phases.length ? m.phases[m.phases.length - 1].name : "";
      const next = PHASES[PHASES.indexOf(done) + 1] || "…";
      const g = el("g", { class: "phase running" });
      g.append(el("rect", { x: x(at), y, width: Math.max(x(to) - x(at), 1), height: row - 6, fill: COLORS[next] || "#bbb" }));
      g.append(el("text", { x: x(at) + 3, y: y + 13 }, next + "…"));
      svg.append(g);
    }
    svg.append(el("text", { x: left + width + 4, y: y + 14, class: "label" }, ms(to - from)));
    return x;
  };
  bars(top, 0, now, m.phases, "migration");
  let x = null;
  if (pauseFrom !== null) {
    x = bars(top + row, pauseFrom, now, m.phases.filter((p) => p.at > pauseFrom), "the pause");
  } else {
    svg.append(el("text", { x: 4, y: top + row + 15 }, "the pause"));
    svg.append(el("text", { x: left, y: top + row + 15, class: "label" }, "sessions are served as usual while the new process starts"));
  }

  // Each session's pause: from when it came to rest to when it went on.
  const oldX = left + width + 110, newX = oldX + 110;
  svg.append(el("text", { x: oldX - 20, y: top + 12, class: "label" }, `pid ${m.started.old.pid}`));
  svg.append(el("text", { x: newX - 20, y: top + 12, class: "label" }, o && o.ok ? `pid ${o.new.pid}` : "new"));
  const pauses = {};
  if (o) for (const s of o.sessions) pauses[s.id] = s;
  sessions.forEach((s, i) => {
    const y = top + row * (2 + i);
    svg.append(el("text", { x: 4, y: y + 15 }, `#${s.id} ${s.user}`));
    const still = m.still[s.id];
    if (still !== undefined && x) {
      const end = pauses[s.id] ? still + pauses[s.id].ns : now;
      const g = el("g", { "data-session": s.id });
      g.append(el("rect", { class: "pause", x: x(still), y: y + 4, width: Math.max(x(end) - x(still), 2), height: row - 10 }));
      g.append(el("title", {}, `session ${s.id} paused ${ms(end - still)}`));
      svg.append(g);
      if (pauses[s.id]) svg.append(el("text", { x: left + width + 4, y: y + 15, class: "label pause-label" }, ms(pauses[s.id].ns)));
    }
    const moved = o && o.ok && pauses[s.id];
    const token = el("g", { class: "token" });
    token.style.transform = `translateX(${moved ? newX - oldX : 0}px)`;
    token.append(el("circle", { cx: oldX, cy: y + row / 2, r: 6, fill: moved ? "#6fbf8a" : still !== undefined && !o ? "#f0a44b" : "#8fb3d9" }));
    token.append(el("text", { x: oldX + 10, y: y + 16, class: "label" }, `#${s.id}`));
    svg.append(token);
  });
}

// --- a session's object graph ---

async function loadGraph(id) {
  $("graph-title").textContent = `of session ${id}: loading…`;
  const r = await fetch("api/graph?session=" + id);
  if (!r.ok) {
    $("graph-title").textContent = `of session ${id}: ${await r.text()}`;
    return;
  }
  state.graph = { id, data: await r.json() };
  drawGraph();
}

// drawGraph lays the graph out in columns: the variables first, then
// each node one column right of the first node that refers to it.
function drawGraph() {
  const svg = $("graph");
  svg.replaceChildren();
  const { id, data } = state.graph;
  $("graph-title").textContent = `of session ${id}: ${data.nodes.length} node(s)` + (data.omitted ? `, ${data.omitted} more not drawn` : "");
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#7a8aa0" }));
  defs.append(marker);
  svg.append(defs);

  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  const out = new Map();
  for (const e of data.edges) (out.get(e.from) || out.set(e.from, []).get(e.from)).push(e);
  const col = new Map();
  const queue = data.nodes.filter((n) => n.var).map((n) => n.id);
  for (const q of queue) col.set(q, 0);
  for (let k = 0; k < queue.length; k++) {
    for (const e of out.get(queue[k]) || []) {
      if (!col.has(e.to) && byId.has(e.to)) { col.set(e.to, col.get(queue[k]) + 1); queue.push(e.to); }
    }
  }
  for (const n of data.nodes) if (!col.has(n.id)) col.set(n.id, 0);

  const colW = 260, lineH = 15, gap = 14;
  const heights = [], pos = new Map();
  for (const n of data.nodes) {
    const c = col.get(n.id);
    const h = lineH * (1 + (n.rows || []).length) + 8;
    const y = heights[c] || 10;
    pos.set(n.id, { x: 10 + c * colW, y, w: colW - 60, h });
    heights[c] = y + h + gap;
  }
  svg.setAttribute("width", 20 + colW * heights.length);
  svg.setAttribute("height", Math.max(40, ...heights.map((h) => h || 0)) + 10);

  const edges = el("g");
  svg.append(edges);
  for (const e of data.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + a.w, y1 = a.y + 10, x2 = b.x, y2 = b.y + 10;
    const loop = b.x <= a.x;
    const d = loop
      ? `M${x1},${y1} C${x1 + 40},${y1} ${x1 + 40},${y2 - 30} ${b.x + b.w / 2},${b.y}`
      : `M${x1},${y1} C${x1 + 30},${y1} ${x2 - 30},${y2} ${x2},${y2}`;
    const from = byId.get(e.from);
    const cut = from && from.var && state.drop.has(from.var);
    edges.append(el("path", { d, class: "edge" + (e.value ? " value" : "") + (cut ? " cut" : ""), "marker-end": "url(#arrow)" }));
    if (e.label) edges.append(el("text", { x: loop ? x1 + 4 : (x1 + x2) / 2 - 10, y: (y1 + y2) / 2 - 3, class: "label" }, e.label));
  }
  for (const n of data.nodes) {
    const p = pos.get(n.id);
    let cls = "node";
    if (n.var) cls += " var";
    if (n.noValue) cls += " novalue";
    if (n.var && state.drop.has(n.var)) cls += " dropped";
    const g = el("g", { class: cls, "data-var": n.var || "", "data-id": n.id });
    g.append(el("rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: n.var ? 0 : 6 }));
    const title = n.var ? `${n.var} ${n.type}` : `#${n.node} ${n.type}`;
    g.append(el("text", { x: p.x + 5, y: p.y + 14, class: "title" }, title));
    (n.rows || []).forEach((r, i) => g.append(el("text", { x: p.x + 5, y: p.y + 14 + lineH * (i + 1) }, r)));
    if (n.var) {
      g.append(el("title", {}, state.drop.has(n.var) ? `${n.var} will be dropped: click to keep it` : `click to drop ${n.var} in the next migration`));
      g.addEventListener("click", () => toggleDrop(n.var));
    }
    svg.append(g);
  }
}

function toggleDrop(name) {
  if (state.drop.has(name)) state.drop.delete(name); else state.drop.add(name);
  drawDrops();
  if (state.graph) drawGraph();
}

function drawDrops() {
  const box = $("drop-list");
  box.replaceChildren();
  if (!state.drop.size) {
    box.className = "note";
    box.textContent = "Break no reference: click a variable in a graph to leave it out (--drop).";
    return;
  }
  box.className = "";
  box.append("Drop: ");
  for (const name of state.drop) {
    const s = document.createElement("span");
    s.className = "drop";
    s.textContent = name + " ✕";
    s.title = "keep " + name;
    s.onclick = () => toggleDrop(name);
    box.append(s);
  }
}

// --- actions ---

async function migrate(dryRun) {
  const buttons = [$("migrate"), $("dry-run")];
  buttons.forEach((b) => (b.disabled = true));
  const output = $("output");
  output.hidden = false;
  output.textContent = dryRun ? "dry run…" : "migrating…";
  try {
    const r = await fetch("api/migrate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ drop: [...state.drop], dryRun }),
    });
    if (!r.ok) {
      output.textContent = `${r.status}: ${await r.text()}`;
      return;
    }
    const res = await r.json();
    output.textContent = res.output + (res.error ? "\n" + res.error : "");
    if (res.ok && !dryRun) {
      state.drop.clear();
      drawDrops();
      if (state.graph) drawGraph();
    }
  } catch (e) {
    output.textContent = "the request failed: " + e;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function connect() {
  const live = $("live");
  const es = new EventSource("api/events");
  const on = (name, f) => es.addEventListener(name, (ev) => f(JSON.parse(ev.data)));
  es.onopen = () => { live.className = "up"; live.textContent = "live"; };
  // The stream ends when the process hands its listener over: the
  // browser reconnects by itself, to the new process.
  es.onerror = () => { live.className = "down"; live.textContent = "reconnecting…"; };
  on("status", onStatus);
  on("migration", onMigration);
  on("phase", onPhase);
  on("paused", onPaused);
  on("outcome", onOutcome);
  on("dropped", (n) => { $("outcome").textContent += ` (this page missed ${n} event(s))`; });
}

$("migrate").onclick = () => migrate(false);
$("dry-run").onclick = () => migrate(true);
connect();
