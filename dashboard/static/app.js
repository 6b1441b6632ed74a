// The Brume dashboard's one script: no framework, no build step.
// Every value from a server is put in the page as text (textContent, text nodes, option
// labels), never as HTML. The session token never reaches this script: the browser holds an
// HttpOnly cookie, and every state-changing request sends the session's CSRF token header.
"use strict";

const state = { session: null, page: null, events: null, consoleTimer: null, browse: null,
  terminal: null };

// ----- DOM helpers: children that are strings become text nodes
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const $ = (id) => document.getElementById(id);

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))));
}

// A message under the header: an error (red) unless `ok` (a confirmation, green).
function flash(message, ok) {
  $("flash").className = ok ? "note" : "error";
  $("flash").textContent = message || "";
}

// ----- the backend
async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({}, extraHeaders || {});
  if (method !== "GET" && method !== "HEAD" && state.session) {
    headers["X-CSRF-Token"] = state.session.csrf_token;
  }
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && typeof body !== "string") {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const answer = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (answer.status === 401 && path !== "/auth/login") { showLogin(); throw new Error("logged out"); }
  const text = await answer.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (!answer.ok) throw new Error(errorText(data, answer.status));
  return data;
}

function errorText(data, status) {
  if (data && typeof data === "object") {
    for (const value of Object.values(data)) {
      if (value && typeof value === "object" && value.message) return String(value.message);
    }
    if (data.message) return String(data.message);
  }
  return `request failed (${status})`;
}

// Upload with progress: XHR, since fetch reports no upload progress.
function upload(method, path, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader("X-CSRF-Token", state.session.csrf_token);
    xhr.setRequestHeader("Content-Type", contentType);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => (xhr.status < 300 ? (onProgress(1), resolve())
      : reject(new Error(`upload failed (${xhr.status})`)));
    xhr.onerror = () => reject(new Error("upload failed"));
    xhr.send(file);
  });
}

// ----- login, logout, projects
function showLogin() {
  state.session = null;
  stopTimers();
  $("shell").hidden = true;
  $("login").hidden = false;
}

async function login(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    state.session = await api("POST", "/auth/login", {
      user: $("login-user").value, password: $("login-password").value,
      project: $("login-project").value, domain: $("login-domain").value });
    $("login-password").value = "";
    await enter();
  } catch (err) { $("login-error").textContent = err.message; }
}

async function enter() {
  $("login").hidden = true;
  $("shell").hidden = false;
  $("whoami").textContent = state.session.user.name;
  const projects = await api("GET", "/api/projects");
  const select = $("project-switch");
  select.replaceChildren(...projects.projects.map((p) =>
    el("option", { value: p.id, selected: p.id === projects.current }, p.name || p.id)));
  show(location.hash.slice(1) || "overview");
}

async function switchProject() {
  try {
    state.session = await api("POST", "/api/projects", { project_id: $("project-switch").value });
    show(state.page || "overview");
  } catch (err) { flash(err.message); }
}

async function logout() {
  try { await api("POST", "/auth/logout", {}); } catch (_) { /* gone already */ }
  showLogin();
}

// ----- pages
const PAGES = {};

function stopTimers() {
  if (state.events) state.events.close();
  clearInterval(state.consoleTimer);
  if (state.terminal) state.terminal.close();
  state.events = state.consoleTimer = state.terminal = null;
}

async function show(page) {
  if (!PAGES[page]) page = "overview";
  stopTimers();
  state.drawn = null;
  state.page = page;
  flash("");
  if (location.hash !== "#" + page) history.replaceState(null, "", "#" + page);
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.page === page);
  }
  const main = $("page");
  main.replaceChildren(el("p", {}, "Loading…"));
  await refresh();
  if (PAGES[page].draw && state.page === page) follow(page);
}

// A live page is drawn from a snapshot of its API answers: fetched once, then pushed by the
// dashboard server on one event stream per page, and only when something changed.
function follow(page) {
  const events = new EventSource(`/api/events/${page}`);
  events.addEventListener("update", (event) => {
    if (state.page === page) draw(page, JSON.parse(event.data));
  });
  events.addEventListener("logout", () => { events.close(); showLogin(); });
  state.events = events;
}

function draw(page, snapshot) {
  const text = JSON.stringify(snapshot);
  if (state.drawn === `${page} ${text}`) return;  // the stream's first event: drawn already
  state.drawn = `${page} ${text}`;
  const focused = document.activeElement;  // a redraw must not take the focus (the terminal)
  try {
    $("page").replaceChildren(...[].concat(PAGES[page].draw(snapshot)));
  } catch (err) { flash(err.message); }
  if (focused && focused !== document.body && focused.isConnected) focused.focus();
}

async function refresh() {
  const page = state.page;
  try {
    if (PAGES[page].draw) {
      const snapshot = await api("GET", `/api/live/${page}`);
      if (state.page === page) draw(page, snapshot);
      return;
    }
    const content = await PAGES[page].render();
    if (state.page === page) $("page").replaceChildren(...[].concat(content));
  } catch (err) { if (err.message !== "logged out") flash(err.message); }
}

// One API answer of a snapshot: its body, or an Error with the service's message.
function part(snapshot, name) {
  const item = snapshot[name] || { status: 0, body: null };
  if (item.status >= 400 || !item.body) {
    throw new Error((item.body && item.body.error && item.body.error.message) ||
      `request failed (${item.status})`);
  }
  return item.body;
}

// A usage bar; its width is set through the CSSOM (the page's policy forbids style attributes).
function bar(percent) {
  const fill = el("span");
  fill.style.width = `${percent}%`;
  return el("div", { class: "bar" }, fill);
}

PAGES.overview = {
  async render() {
    const data = await api("GET", "/api/overview");
    const usage = data.usage || {};
    const hour = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const day = (t) => new Date(t * 1000).toLocaleDateString([], { month: "short", day: "numeric" });
    return [el("h2", {}, "Overview"), table(["Resource", "Used", "Limit", ""],
      data.quotas.map((q) => [q.label, q.used === null ? "–" : q.used,
        q.limit === null ? "unlimited" : q.limit,
        bar(q.percent || 0)])),
    el("h2", {}, "Usage over time"),
    el("div", { class: "charts" },
      usage.hours ? chart("Instance-hours, last 24 hours", usage.hours.start,
        usage.hours.instances, hour, "usage-hours") : null,
      usage.hours ? chart("vCPU-hours, last 24 hours", usage.hours.start, usage.hours.vcpus,
        hour) : null,
      usage.days ? chart("Instance-hours, last 14 days", usage.days.start,
        usage.days.instances, day, "usage-days") : null,
      usage.days ? chart("RAM GiB-hours, last 14 days", usage.days.start, usage.days.ram_gib,
        day) : null)];
  },
};

// A bar chart as inline SVG, built node by node (labels as text nodes, no markup strings).
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// `slots`: bars the width is divided into (a sampled series fills it from the left);
// `ceiling`: the top of the scale (e.g. 100 for a percentage), else the largest value.
function chart(title, starts, values, label, id, { slots = 0, ceiling = 0 } = {}) {
  const width = 360, height = 140, left = 36, bottom = 20, top = 8;
  const peak = ceiling || Math.max(...values, 0);
  const scale = peak > 0 ? (height - bottom - top) / peak : 0;
  const step = (width - left) / Math.max(values.length, slots, 1);
  const bars = values.map((v, i) => svg("rect", { x: (left + i * step + 1).toFixed(1),
    y: (height - bottom - v * scale).toFixed(1), width: Math.max(step - 2, 1).toFixed(1),
    height: (v * scale).toFixed(1), class: "chart-bar" },
  svg("title", {}, `${label(starts[i])}: ${Number(v.toFixed(2))}`)));
  const last = values.length - 1;
  const ticks = [...new Set([0, Math.floor(last / 2), last])].filter((i) => i >= 0)
    .map((i) => svg("text", { x: (left + i * step + (i === last ? step : 0)).toFixed(1),
      y: height - 4, class: "chart-label",
      "text-anchor": i === last && i > 0 ? "end" : "start" }, label(starts[i])));
  return el("figure", { class: "chart", id },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" },
      svg("text", { x: 0, y: top + 8, class: "chart-label" }, Number(peak.toPrecision(2))),
      svg("text", { x: 0, y: height - bottom, class: "chart-label" }, "0"),
      svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom,
        class: "chart-axis" }), ...bars, ...ticks),
    el("figcaption", {}, title));
}

// Instances
const ACTIONS = {
  Start: { "os-start": null }, Stop: { "os-stop": null }, Reboot: { reboot: { type: "SOFT" } },
};

PAGES.instances = {
  draw(snapshot) {
    const data = part(snapshot, "servers");
    const rows = data.servers.map((s) => [
      s.name, el("span", { class: "status-" + s.status }, s.status),
      Object.values(s.addresses || {}).flat().map((a) => a.addr).join(", "),
      [...Object.entries(ACTIONS).map(([label, body]) => el("button", {
        type: "button", onclick: () => serverAction(s.id, body) }, label)),
      el("button", { type: "button", onclick: () => snapshotDialog(s) }, "Snapshot"),
      el("button", { type: "button", onclick: () => showConsole(s) }, "Console"),
      el("button", { type: "button", onclick: () => openTerminal(s) }, "Serial console"),
      el("button", { type: "button", onclick: () => showDiagnostics(s) }, "Diagnostics"),
      el("button", { type: "button", class: "danger", onclick: () => removeThing(
        `/api/compute/servers/${encodeURIComponent(s.id)}`, `instance ${s.name}`) }, "Delete")],
    ]);
    const panel = $("console-panel");
    return [el("h2", {}, "Instances"),
      el("div", { class: "toolbar" }, el("button", { type: "button", class: "primary",
        id: "launch", onclick: launchDialog }, "Launch instance")),
      table(["Name", "Status", "Addresses", "Actions"], rows),
      panel || el("div", { id: "console-panel" })];
  },
};

// Diagnostics as charts: the server's counters (Nova's diagnostics) sampled every few
// seconds while the panel is open; CPU use and I/O rates come from the differences.
const DIAG_MS = 5000, DIAG_SAMPLES = 36;

function diagnosticsRates(previous, current, seconds) {
  const sum = (figures, test) => Object.entries(figures)
    .filter(([key, value]) => test(key) && typeof value === "number")
    .reduce((total, [, value]) => total + value, 0);
  const delta = (test) => Math.max(0, sum(current, test) - sum(previous, test)) / seconds;
  const cpus = Object.keys(current).filter((k) => /^cpu\d+_time$/.test(k)).length || 1;
  return {
    cpu: Math.min(100, (delta((k) => /^cpu\d+_time$/.test(k)) / 1e9 / cpus) * 100),
    disk: delta((k) => /_(read|write)$/.test(k)) / 1024,
    net: delta((k) => /_(rx|tx)$/.test(k)) / 1024,
    memory: (current.memory || 0) / 1024,
  };
}

function showDiagnostics(server) {
  clearInterval(state.consoleTimer);
  if (state.terminal) { state.terminal.close(); state.terminal = null; }
  const charts = el("div", { class: "charts", id: "diagnostics-charts" },
    el("p", {}, "Sampling…"));
  $("console-panel").replaceChildren(el("h2", {}, `Diagnostics: ${server.name}`), charts);
  const samples = [];
  let previous = null;
  const sample = async () => {
    let figures;
    try {
      figures = await api("GET", `/api/compute/servers/${encodeURIComponent(server.id)}/diagnostics`);
    } catch (err) { charts.replaceChildren(el("p", { id: "diagnostics-error" }, err.message)); return; }
    const now = Date.now() / 1000;
    if (previous) {
      samples.push({ at: now, ...diagnosticsRates(previous.figures, figures, now - previous.at) });
      if (samples.length > DIAG_SAMPLES) samples.shift();
    }
    previous = { at: now, figures };
    if (!samples.length) return;
    const at = samples.map((x) => x.at);
    const time = (t) => new Date(t * 1000).toLocaleTimeString();
    const slots = DIAG_SAMPLES;
    charts.replaceChildren(
      chart("CPU use (%)", at, samples.map((x) => x.cpu), time, "diagnostics-cpu",
        { slots, ceiling: 100 }),
      chart("Memory (MiB)", at, samples.map((x) => x.memory), time, null, { slots }),
      chart("Disk I/O (KiB/s)", at, samples.map((x) => x.disk), time, null, { slots }),
      chart("Network (KiB/s)", at, samples.map((x) => x.net), time, null, { slots }));
  };
  sample();
  state.consoleTimer = setInterval(sample, DIAG_MS);
}

function snapshotDialog(server) {
  const name = el("input", { id: "snapshot-name", required: true,
    value: `${server.name}-snapshot` });
  openDialog(`Snapshot of ${server.name}`, [field("Image name", name)], async () => {
    await api("POST", `/api/compute/servers/${encodeURIComponent(server.id)}/action`,
      { createImage: { name: name.value } });
    flash(`Snapshot ${name.value} requested: it shows on the Images page.`, true);
  });
}

// The interactive serial console: a WebSocket to the dashboard, which relays it to the
// compute API's console. The first message is the session's CSRF token. The view is a
// small terminal: the guest's bytes are shown as text (escape sequences dropped), keys
// typed in it are sent as the bytes a terminal would send.
const KEYS = { Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b", ArrowUp: "\x1b[A",
  ArrowDown: "\x1b[B", ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D", Delete: "\x1b[3~",
  Home: "\x1b[H", End: "\x1b[F" };
const MAX_SCREEN = 200000;

function keyBytes(event) {
  if (KEYS[event.key]) return KEYS[event.key];
  if (event.ctrlKey && event.key.length === 1 && /[a-z@\[\\\]^_]/i.test(event.key)) {
    return String.fromCharCode(event.key.toUpperCase().charCodeAt(0) & 0x1f);
  }
  if (!event.ctrlKey && !event.metaKey && event.key.length === 1) return event.key;
  return null;
}

function screenText(previous, chunk) {
  let text = previous;
  const clean = chunk.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]/g, "")
    .replace(/\r\n/g, "\n");
  for (const ch of clean) {
    if (ch === "\b") text = text.slice(0, -1);
    else if (ch === "\r" || ch === "\x07" || ch === "\x00") continue;
    else text += ch;
  }
  return text.length > MAX_SCREEN ? text.slice(-MAX_SCREEN) : text;
}

function openTerminal(server) {
  clearInterval(state.consoleTimer);
  if (state.terminal) state.terminal.close();
  const screen = el("pre", { class: "console terminal", id: "terminal", tabindex: 0 });
  const status = el("p", { id: "terminal-status" }, "Connecting…");
  $("console-panel").replaceChildren(el("h2", {}, `Serial console: ${server.name}`),
    el("p", { class: "hint" }, "Click the console and type; it goes to the guest's serial port."),
    screen, status);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(
    `${scheme}://${location.host}/api/console/${encodeURIComponent(server.id)}`);
  socket.binaryType = "arraybuffer";
  const decoder = new TextDecoder();
  socket.onopen = () => { socket.send(state.session.csrf_token); status.textContent = "Connected."; };
  socket.onmessage = (event) => {
    const chunk = typeof event.data === "string" ? event.data
      : decoder.decode(event.data, { stream: true });
    screen.textContent = screenText(screen.textContent, chunk);
    screen.scrollTop = screen.scrollHeight;
  };
  socket.onclose = (event) => {
    status.textContent = event.reason ? `Console closed: ${event.reason}` : "Console closed.";
  };
  screen.addEventListener("keydown", (event) => {
    const bytes = keyBytes(event);
    if (bytes === null || socket.readyState !== WebSocket.OPEN) return;
    event.preventDefault();
    socket.send(new TextEncoder().encode(bytes));
  });
  screen.addEventListener("paste", (event) => {
    event.preventDefault();
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(new TextEncoder().encode(event.clipboardData.getData("text")));
    }
  });
  state.terminal = socket;
  screen.focus();
}

async function serverAction(id, body) {
  try {
    await api("POST", `/api/compute/servers/${encodeURIComponent(id)}/action`, body);
    refresh();
  } catch (err) { flash(err.message); }
}

async function removeThing(path, what) {
  if (!confirm(`Delete ${what}?`)) return;
  try { await api("DELETE", path); refresh(); } catch (err) { flash(err.message); }
}

function showConsole(server) {
  clearInterval(state.consoleTimer);
  if (state.terminal) { state.terminal.close(); state.terminal = null; }
  const pre = el("pre", { class: "console", id: "console-log" });
  $("console-panel").replaceChildren(el("h2", {}, `Console log: ${server.name}`), pre);
  const follow = async () => {
    try {
      const out = await api("POST",
        `/api/compute/servers/${encodeURIComponent(server.id)}/action`,
        { "os-getConsoleOutput": { length: 200 } });
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = out.output || "";
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    } catch (err) { pre.textContent = err.message; }
  };
  follow();
  state.consoleTimer = setInterval(follow, 3000);
}

function field(label, input) { return el("label", {}, label, input); }
function options(items, blank) {
  return [blank ? el("option", { value: "" }, blank) : null,
    ...items.map(([value, label]) => el("option", { value }, label))];
}

function utf8Base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

async function launchDialog() {
  const [images, flavors, networks, keypairs] = await Promise.all([
    api("GET", "/api/image/v2/images"), api("GET", "/api/compute/flavors/detail"),
    api("GET", "/api/network/v2.0/networks").catch(() => ({ networks: [] })),
    api("GET", "/api/compute/os-keypairs")]);
  const name = el("input", { id: "launch-name", required: true });
  const image = el("select", { id: "launch-image" },
    options(images.images.filter((i) => i.status === "active").map((i) => [i.id, i.name || i.id])));
  const flavor = el("select", { id: "launch-flavor" },
    options(flavors.flavors.map((f) => [f.id, `${f.name} (${f.vcpus} vCPU, ${f.ram} MiB)`])));
  const network = el("select", { id: "launch-network" },
    options(networks.networks.map((n) => [n.id, n.name || n.id]), "(none)"));
  const keypair = el("select", { id: "launch-keypair" },
    options(keypairs.keypairs.map((k) => [k.keypair.name, k.keypair.name]), "(none)"));
  const userData = el("textarea", { id: "launch-user-data", rows: 4 });
  openDialog("Launch instance", [field("Name", name), field("Image", image),
    field("Flavor", flavor), field("Network", network), field("Key pair", keypair),
    field("User data", userData)], async () => {
    const server = { name: name.value, imageRef: image.value, flavorRef: flavor.value,
      networks: network.value ? [{ uuid: network.value }] : "none" };
    if (keypair.value) server.key_name = keypair.value;
    if (userData.value) server.user_data = utf8Base64(userData.value);
    await api("POST", "/api/compute/servers", { server });
    refresh();
  });
}

function openDialog(title, fields, onSubmit) {
  const dialog = $("dialog");
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { id: "dialog-form" }, el("h2", {}, title), fields, error,
    el("div", {}, el("button", { type: "submit", class: "primary", id: "dialog-submit" }, "OK"),
      el("button", { type: "button", onclick: () => dialog.close() }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // onSubmit may return a note: the dialog then stays open to show it (e.g. a new URL).
    try {
      const note = await onSubmit();
      if (typeof note === "string") { error.className = "note"; error.textContent = note; }
      else dialog.close();
    } catch (err) { error.className = "error"; error.textContent = err.message; }
  });
  dialog.replaceChildren(form);
  dialog.showModal();
}

// Images
PAGES.images = {
  draw(snapshot) {
    const data = part(snapshot, "images");
    const file = el("input", { type: "file", id: "image-file" });
    const name = el("input", { id: "image-name", placeholder: "name" });
    const format = el("select", { id: "image-format" },
      options(["qcow2", "raw", "iso"].map((f) => [f, f])));
    const bar = $("image-progress") || el("progress", { id: "image-progress", max: 100, value: 0 });
    const label = $("image-progress-text") || el("span", { id: "image-progress-text" });
    const start = async () => {
      if (!file.files.length) { flash("choose a file"); return; }
      try {
        const image = await api("POST", "/api/image/v2/images", {
          name: name.value || file.files[0].name, disk_format: format.value,
          container_format: "bare", visibility: "private" });
        await upload("PUT", `/api/image/v2/images/${encodeURIComponent(image.id)}/file`,
          file.files[0], "application/octet-stream", (part) => {
            bar.value = Math.round(part * 100);
            label.textContent = `${bar.value}%`;
          });
        refresh();
      } catch (err) { flash(err.message); }
    };
    const toolbar = $("image-toolbar") || el("div", { class: "toolbar", id: "image-toolbar" },
      field("Image file", file), field("Name", name), field("Disk format", format),
      el("button", { type: "button", class: "primary", id: "image-upload", onclick: start },
        "Upload"), bar, label);
    return [el("h2", {}, "Images"), toolbar, table(["Name", "Status", "Format", "Size", "Visibility", ""],
      data.images.map((i) => [i.name, i.status, i.disk_format || "", size(i.size),
        i.visibility || "",
        [el("button", { type: "button", onclick: () => shareDialog(i) }, "Share"),
          el("button", { type: "button", class: "danger", onclick: () => removeThing(
            `/api/image/v2/images/${encodeURIComponent(i.id)}`, `image ${i.name}`) },
          "Delete")]]))];
  },
};

// Sharing an image with other projects (the image members API); a private image becomes
// "shared" first, as the API asks.
async function shareDialog(image) {
  const base = `/api/image/v2/images/${encodeURIComponent(image.id)}`;
  const listing = el("ul", { id: "share-members" });
  const load = async () => {
    const data = await api("GET", `${base}/members`);
    listing.replaceChildren(...data.members.map((m) => el("li", {}, `${m.member_id} (${m.status}) `,
      el("button", { type: "button", onclick: async () => {
        try { await api("DELETE", `${base}/members/${encodeURIComponent(m.member_id)}`); await load(); }
        catch (err) { flash(err.message); }
      } }, "Remove"))));
    if (!data.members.length) listing.replaceChildren(el("li", {}, "shared with no project"));
  };
  const project = el("input", { id: "share-project", required: true, placeholder: "project id" });
  openDialog(`Share ${image.name}`, [listing, field("Share with project", project)], async () => {
    if (image.visibility !== "shared") {
      await api("PATCH", base, JSON.stringify([{ op: "replace", path: "/visibility", value: "shared" }]),
        { "Content-Type": "application/openstack-images-v2.1-json-patch" });
      image.visibility = "shared";
    }
    await api("POST", `${base}/members`, { member: project.value });
    refresh();
  });
  try { await load(); } catch (err) { listing.replaceChildren(el("li", {}, err.message)); }
}

function size(bytes) {
  if (typeof bytes !== "number") return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${value} B`;
}

// Object store: containers, then objects by prefix ("folders" by the "/" delimiter)
const path = (...parts) => parts.map((p) => encodeURIComponent(p)).join("/");

PAGES.containers = {
  async render() {
    if (state.browse) return browseContainer();
    const data = await api("GET", "/api/object-store?format=json");
    const name = el("input", { id: "container-name", placeholder: "new container" });
    const create = async () => {
      try { await api("PUT", `/api/object-store/${path(name.value)}`, ""); refresh(); }
      catch (err) { flash(err.message); }
    };
    return [el("h2", {}, "Object store"), el("div", { class: "toolbar" }, name,
      el("button", { type: "button", id: "container-create", onclick: create }, "Create")),
    table(["Container", "Objects", "Size", ""], data.map((c) => [
      el("a", { class: "link", onclick: () => { state.browse = { container: c.name, prefix: "" };
        refresh(); } }, c.name), c.count, size(c.bytes),
      [el("button", { type: "button", onclick: () => aclDialog(c.name) }, "Access"),
        el("button", { type: "button", class: "danger", onclick: () => removeThing(
          `/api/object-store/${path(c.name)}`, `container ${c.name}`) }, "Delete")]]))];
  },
};

// A container's ACLs (X-Container-Read / X-Container-Write), read with a HEAD.
async function aclDialog(container) {
  let answer;
  try {
    answer = await fetch(`/api/object-store/${path(container)}`, { method: "HEAD" });
    if (!answer.ok) throw new Error(`the object store answered ${answer.status}`);
  } catch (err) { flash(err.message); return; }
  const read = el("input", { id: "acl-read", value: answer.headers.get("X-Container-Read") || "",
    placeholder: "e.g. .r:*,.rlistings or test2:*" });
  const write = el("input", { id: "acl-write", value: answer.headers.get("X-Container-Write") || "",
    placeholder: "e.g. test2:tester2" });
  openDialog(`Access to ${container}`, [field("Read ACL", read), field("Write ACL", write),
    el("p", { class: "hint" }, "Empty removes the ACL. .r:* lets anyone read; .rlistings lets them list.")],
  async () => {
    await api("POST", `/api/object-store/${path(container)}`, "", {
      "X-Container-Read": read.value, "X-Container-Write": write.value });
    flash(`Access to ${container} saved.`, true);
  });
}

// A temporary URL of an object (made by the dashboard with the account's key).
async function tempUrlDialog(container, name) {
  const seconds = el("select", { id: "tempurl-seconds" }, options([[3600, "1 hour"],
    [86400, "1 day"], [604800, "7 days"]]));
  const method = el("select", { id: "tempurl-method" }, options([["GET", "download (GET)"],
    ["PUT", "upload (PUT)"]]));
  const out = el("input", { id: "tempurl-url", readonly: true, placeholder: "the URL shows here" });
  openDialog(`Temporary URL of ${name}`, [field("Valid for", seconds), field("Allows", method),
    field("URL", out)], async () => {
    const made = await api("POST", "/api/tempurl", { container, object: name,
      method: method.value, seconds: Number(seconds.value) });
    out.value = made.url;
    out.select();
    return `Valid until ${new Date(made.expires * 1000).toLocaleString()}: copy it now.`;
  });
}

async function browseContainer() {
  const { container, prefix } = state.browse;
  const query = `format=json&delimiter=/&prefix=${encodeURIComponent(prefix)}`;
  const rows = await api("GET", `/api/object-store/${path(container)}?${query}`);
  const file = el("input", { type: "file", id: "object-file" });
  const bar = el("progress", { id: "object-progress", max: 100, value: 0 });
  const send = async () => {
    if (!file.files.length) return;
    const target = `/api/object-store/${path(container)}/` +
      (prefix + file.files[0].name).split("/").map(encodeURIComponent).join("/");
    try {
      await upload("PUT", target, file.files[0], file.files[0].type || "application/octet-stream",
        (part) => { bar.value = Math.round(part * 100); });
      refresh();
    } catch (err) { flash(err.message); }
  };
  const up = () => {
    if (!prefix) state.browse = null;
    else {
      const parts = prefix.split("/").filter(Boolean);
      parts.pop();
      state.browse = { container, prefix: parts.length ? parts.join("/") + "/" : "" };
    }
    refresh();
  };
  return [el("h2", {}, `Object store: ${container}/${prefix}`),
    el("div", { class: "toolbar" }, el("button", { type: "button", id: "browse-up", onclick: up }, "Up"),
      file, el("button", { type: "button", id: "object-upload", onclick: send }, "Upload"), bar),
    table(["Name", "Size", "Modified", ""], rows.map((o) => o.subdir
      ? [el("a", { class: "link", onclick: () => { state.browse = { container, prefix: o.subdir };
        refresh(); } }, o.subdir.slice(prefix.length)), "", "", ""]
      : [o.name.slice(prefix.length), size(o.bytes), o.last_modified || "",
        [el("a", { class: "link", href: `/api/object-store/${path(container)}/` +
          o.name.split("/").map(encodeURIComponent).join("/") }, "Download"), " ",
        el("button", { type: "button", onclick: () => tempUrlDialog(container, o.name) },
          "Temp URL"),
        el("button", { type: "button", class: "danger", onclick: () => removeThing(
          `/api/object-store/${path(container)}/` + o.name.split("/").map(encodeURIComponent).join("/"),
          `object ${o.name}`) }, "Delete")]]))];
}

// Networks: networks and their subnets, floating IPs, security groups and their rules
const net = (p) => `/api/network/v2.0/${p}`;

async function act(method, target, body, done) {
  try { await api(method, target, body); if (done) flash(done, true); refresh(); }
  catch (err) { flash(err.message); }
}

PAGES.networks = {
  async render() {
    const get = (p) => api("GET", net(p));
    const [nets, subnets, fips, groups] = await Promise.all([get("networks"), get("subnets"),
      get("floatingips"), get("security-groups")]);
    const external = nets.networks.filter((n) => n["router:external"]);
    const pool = el("select", { id: "fip-network" },
      options(external.map((n) => [n.id, n.name || n.id])));
    const groupName = Object.fromEntries(groups.security_groups.map((g) => [g.id, g.name]));
    const rules = groups.security_groups.flatMap((g) => (g.security_group_rules || []).map((r) =>
      [g.name, r.direction, r.ethertype || "", r.protocol || "any",
        r.port_range_min === null || r.port_range_min === undefined ? "any"
          : `${r.port_range_min}-${r.port_range_max}`,
        r.remote_ip_prefix || (r.remote_group_id ? `group ${groupName[r.remote_group_id] || r.remote_group_id}` : "any"),
        el("button", { type: "button", class: "danger", onclick: () => removeThing(
          net(`security-group-rules/${encodeURIComponent(r.id)}`), `this rule of ${g.name}`) },
        "Delete")]));
    return [el("h2", {}, "Networks"),
      el("div", { class: "toolbar" }, el("button", { type: "button", class: "primary",
        id: "network-create", onclick: networkDialog }, "Create network")),
      table(["Network", "Status", "Shared", "External", ""], nets.networks.map((n) =>
        [n.name, n.status, String(n.shared), String(n["router:external"] || false),
          el("button", { type: "button", class: "danger", onclick: () => removeThing(
            net(`networks/${encodeURIComponent(n.id)}`), `network ${n.name}`) }, "Delete")])),
      el("h2", {}, "Subnets"), table(["Subnet", "CIDR", "Gateway", ""], subnets.subnets.map((s) =>
        [s.name, s.cidr, s.gateway_ip || "", el("button", { type: "button", class: "danger",
          onclick: () => removeThing(net(`subnets/${encodeURIComponent(s.id)}`),
            `subnet ${s.name || s.cidr}`) }, "Delete")])),
      el("h2", {}, "Floating IPs"),
      el("div", { class: "toolbar" }, field("From network", pool), el("button", {
        type: "button", id: "fip-allocate", disabled: external.length ? null : "disabled",
        onclick: () => act("POST", net("floatingips"),
          { floatingip: { floating_network_id: pool.value } }, "Floating IP allocated.") },
      "Allocate")),
      table(["Address", "Fixed address", "Status", ""], fips.floatingips.map((f) =>
        [f.floating_ip_address, f.fixed_ip_address || "", f.status,
          el("button", { type: "button", class: "danger", onclick: () => removeThing(
            net(`floatingips/${encodeURIComponent(f.id)}`), `floating IP ${f.floating_ip_address}`) },
          "Release")])),
      el("h2", {}, "Security groups"), table(["Group", "Rules", ""], groups.security_groups.map((g) =>
        [g.name, (g.security_group_rules || []).length,
          el("button", { type: "button", onclick: () => ruleDialog(g) }, "Add rule")])),
      el("h2", {}, "Security group rules"),
      table(["Group", "Direction", "Ether type", "Protocol", "Ports", "Remote", ""], rules)];
  },
};

function networkDialog() {
  const name = el("input", { id: "network-name", required: true });
  const cidr = el("input", { id: "subnet-cidr", placeholder: "e.g. 10.0.5.0/24 (optional)" });
  openDialog("Create network", [field("Name", name), field("Subnet CIDR", cidr)], async () => {
    const made = await api("POST", net("networks"), { network: { name: name.value } });
    if (cidr.value) {
      await api("POST", net("subnets"), { subnet: { network_id: made.network.id,
        name: `${name.value}-subnet`, cidr: cidr.value, ip_version: 4 } });
    }
    refresh();
  });
}

function ruleDialog(group) {
  const direction = el("select", { id: "rule-direction" },
    options([["ingress", "ingress"], ["egress", "egress"]]));
  const protocol = el("select", { id: "rule-protocol" },
    options([["tcp", "tcp"], ["udp", "udp"], ["icmp", "icmp"], ["", "any"]]));
  const ports = el("input", { id: "rule-ports", placeholder: "22 or 8000-8080 (tcp/udp)" });
  const remote = el("input", { id: "rule-remote", value: "0.0.0.0/0" });
  openDialog(`Add a rule to ${group.name}`, [field("Direction", direction),
    field("Protocol", protocol), field("Ports", ports), field("Remote CIDR", remote)], async () => {
    const rule = { security_group_id: group.id, direction: direction.value, ethertype: "IPv4" };
    if (protocol.value) rule.protocol = protocol.value;
    if (ports.value) {
      const [low, high] = ports.value.split("-").map((p) => Number(p.trim()));
      if (!Number.isInteger(low) || (high !== undefined && !Number.isInteger(high))) {
        throw new Error("ports: a number or a range like 8000-8080");
      }
      rule.port_range_min = low;
      rule.port_range_max = high === undefined ? low : high;
    }
    if (remote.value) rule.remote_ip_prefix = remote.value;
    await api("POST", net("security-group-rules"), { security_group_rule: rule });
    refresh();
  });
}

PAGES.volumes = {
  draw(snapshot) {
    const data = part(snapshot, "volumes");
    return [el("h2", {}, "Volumes"),
      el("div", { class: "toolbar" }, el("button", { type: "button", class: "primary",
        id: "volume-create", onclick: volumeDialog }, "Create volume")),
      table(["Name", "Status", "Size (GiB)", "Attached to", ""],
        data.volumes.map((v) => [v.name || v.id, v.status, v.size,
          (v.attachments || []).map((a) => a.server_id).join(", "),
          [(v.attachments || []).length
            ? el("button", { type: "button", onclick: () => act("DELETE",
              `/api/compute/servers/${encodeURIComponent(v.attachments[0].server_id)}` +
              `/os-volume_attachments/${encodeURIComponent(v.id)}`, undefined,
              "Detaching the volume.") }, "Detach")
            : el("button", { type: "button", onclick: () => attachDialog(v) }, "Attach"),
          el("button", { type: "button", class: "danger", onclick: () => removeThing(
            `/api/volume/volumes/${encodeURIComponent(v.id)}`, `volume ${v.name || v.id}`) },
          "Delete")]]))];
  },
};

function volumeDialog() {
  const name = el("input", { id: "volume-name", required: true });
  const sizeGiB = el("input", { id: "volume-size", type: "number", min: 1, value: 1, required: true });
  openDialog("Create volume", [field("Name", name), field("Size (GiB)", sizeGiB)], async () => {
    await api("POST", "/api/volume/volumes", { volume: { name: name.value,
      size: Number(sizeGiB.value) } });
    refresh();
  });
}

async function attachDialog(volume) {
  let servers;
  try { servers = (await api("GET", "/api/compute/servers")).servers; }
  catch (err) { flash(err.message); return; }
  const server = el("select", { id: "attach-server" },
    options(servers.map((s) => [s.id, s.name || s.id])));
  openDialog(`Attach ${volume.name || volume.id}`, [field("To instance", server)], async () => {
    await api("POST", `/api/compute/servers/${encodeURIComponent(server.value)}/os-volume_attachments`,
      { volumeAttachment: { volumeId: volume.id } });
    refresh();
  });
}

// Admin: hypervisors with their load and allocation, compute services (the compute API says who may see them)
PAGES.admin = {
  draw(snapshot) {
    let hypervisors, services;
    try {
      [hypervisors, services] = [part(snapshot, "hypervisors"), part(snapshot, "services")];
    } catch (err) {
      return [el("h2", {}, "Admin"), el("p", { id: "admin-refused" },
        `Only a cloud admin sees this page (${err.message}).`)];
    }
    return [el("h2", {}, "Hypervisors"), table(["Host", "State", "Status", "Load (1/5/15 min)",
      "vCPUs", "RAM (MiB)", "Disk (GiB)", "Instances", "Tasks in progress"],
      hypervisors.hypervisors.map((h) => [
      h.hypervisor_hostname, h.state, h.status, hostLoad(h.uptime),
      usage(h.vcpus_used, h.vcpus), usage(h.memory_mb_used, h.memory_mb),
      usage(h.local_gb_used, h.local_gb), h.running_vms ?? "", h.current_workload ?? ""])),
    el("h2", {}, "Compute services"), table(["Host", "Zone", "Status", "State", "Last heartbeat",
      "Disabled because"], services.services.map((v) => [v.host, v.zone, v.status, v.state,
      v.updated_at || "", v.disabled_reason || ""])), ...storageHealth(snapshot)];
  },
};

// A hypervisor's load averages, from the `uptime` line of its last heartbeat.
function hostLoad(uptime) {
  const found = /load average: ([\d.]+), ([\d.]+), ([\d.]+)/.exec(uptime || "");
  return found ? `${found[1]} / ${found[2]} / ${found[3]}` : "unknown";
}

// The storage cluster's health: the object store proxy's /recon/cluster (every object
// server's recon figures, each ring's balance), for a reseller admin.
function storageHealth(snapshot) {
  let health;
  try { health = part(snapshot, "storage"); } catch (err) {
    return [el("h2", {}, "Storage cluster"), el("p", { id: "storage-refused" }, err.message)];
  }
  const rings = health.rings || {};
  const age = (recon, daemon) => {
    const record = recon && recon.daemons && recon.daemons[daemon];
    if (!record || typeof record.end !== "number") return "never";
    const seconds = Math.max(0, Math.round(recon.time - record.end));
    return `${duration(seconds)} ago${record.status === "failed" ? " (failed)" : ""}`;
  };
  const ringsMatch = (recon) => {
    if (!recon || !recon.ringmd5) return "unknown";
    const stale = Object.keys(rings).filter((kind) =>
      recon.ringmd5[`${kind}.ring.gz`] !== rings[kind].md5);
    return stale.length ? `stale: ${stale.join(", ")}` : "same as the proxy's";
  };
  const nodes = health.nodes || [];
  const devices = nodes.flatMap((n) => (n.recon && n.recon.diskusage || []).map((d) => {
    const asyncs = (n.recon.async && n.recon.async.devices || {})[d.device];
    const quarantine = (n.recon.quarantined && n.recon.quarantined.devices || {})[d.device] || {};
    return [n.server, d.device, d.mounted ? "yes" : "NO",
      el("span", {}, `${size(d.used)} / ${size(d.size)} `,
        bar(d.size ? Math.round((100 * d.used) / d.size) : 0)),
      asyncs ?? "", Object.values(quarantine).reduce((a, b) => a + (b || 0), 0)];
  }));
  return [el("h2", {}, "Storage nodes"), table(["Object server", "Answer",
    "Object replication", "Container replication", "Account replication", "Rings"],
  nodes.map((n) => [n.server, n.recon ? "ok" : `no answer: ${n.error}`,
    age(n.recon, "object-replicator"), age(n.recon, "container-replicator"),
    age(n.recon, "account-replicator"), ringsMatch(n.recon)])),
  el("h2", {}, "Storage devices"), table(["Server", "Device", "Mounted", "Disk use",
    "Async pendings", "Quarantined"], devices),
  el("h2", {}, "Rings"), table(["Ring", "Devices", "Partition replicas", "Balance"],
    Object.entries(rings).map(([kind, ring]) => [kind, ring.devices.length,
      ring.devices.reduce((a, d) => a + d.partitions, 0), `${ring.balance} %`]))];
}

function duration(seconds) {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function usage(used, total) {
  const percent = total ? Math.min(100, Math.round((100 * used) / total)) : 0;
  return el("span", {}, `${used} / ${total} `, bar(percent));
}

// ----- start
document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("project-switch").addEventListener("change", switchProject);
  for (const link of document.querySelectorAll("#nav a")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      if (link.dataset.page === "containers") state.browse = null;
      show(link.dataset.page);
    });
  }
  try {
    const answer = await fetch("/api/session", { credentials: "same-origin" });
    if (!answer.ok) { showLogin(); return; }
    state.session = await answer.json();
    await enter();
  } catch (_) { showLogin(); }
});
