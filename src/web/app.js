"use strict";
// The board page. It speaks only the public API: REST for actions, one WebSocket for
// live state. Lists are keyed: a pushed event redraws only the cards it changed, and
// never what a person is typing or has selected.
const $ = (id) => document.getElementById(id);
const state = {
  access: localStorage.getItem("mq.access"), refresh: localStorage.getItem("mq.refresh"),
  user: JSON.parse(localStorage.getItem("mq.user") || "null"),
  tickets: new Map(), positions: new Map(), sessions: new Map(), announcements: [],
  queue: null, queues: new Map(), presence: {}, seq: null, epoch: null, ws: null, retry: 0, registering: false,
  // A mentor's own profile: skills, about_me, the queues they staff (null = all) and presence.
  profile: {skills: [], about_me: "", team_number: null, queues: null, presence: "available"}, helping: [],
  slots: new Map(), booking: null, noticed: new Map(), live: false,
};
const has = (role) => !!state.user && state.user.roles.includes(role);
const isStaff = () => has("mentor") || has("organizer") || has("director");
const isManager = () => has("organizer") || has("director");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c]));
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const fmtTime = (iso) => iso ? new Date(iso).toLocaleString([], {dateStyle: "medium", timeStyle: "short"}) : "";
const fmtClock = (iso) => new Date(iso).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
const queueName = (id) => (state.queues.get(id) || {name: `Queue ${id}`}).name;
const splitList = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
const staffs = (id) => state.profile.queues == null || state.profile.queues.includes(id);
const matchesMe = (t) => t.tags.some((tag) => state.profile.skills.some((s) => s.toLowerCase() === tag.toLowerCase()));
// A mentor who does not manage watches only the queues they staff.
const narrowed = () => has("mentor") && !isManager() && state.profile.queues != null;
const fmtWait = (s) => s == null ? "no mentor available yet" : s < 60 ? "under a minute" : `about ${Math.round(s / 60)} min`;
const fmtAge = (iso) => {
  const minutes = Math.max(0, Math.floor((Date.now() - new Date(iso)) / 60000));
  return minutes < 1 ? "under a minute" : minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
};
const isLive = (t) => t.status === "OPEN" || t.status === "CLAIMED";

// "Today", "Tomorrow", or the weekday and date, in the viewer's time zone.
function dayName(iso) {
  const d = new Date(iso), today = new Date();
  const key = (x) => x.toDateString();
  const tomorrow = new Date(today); tomorrow.setDate(today.getDate() + 1);
  if (key(d) === key(today)) return "Today";
  if (key(d) === key(tomorrow)) return "Tomorrow";
  return d.toLocaleDateString([], {weekday: "long", month: "short", day: "numeric"});
}

// ---- keyed lists ----
// Keeps one child of `box` per item, in order. A child is redrawn only when its markup
// changed, and only its `.view` part: a `.keep` part (a form being filled in) is left
// alone. `after(el, item)` may maintain that part. The `[data-empty]` note for the box
// shows while it has no items.
function keyed(box, items, key, draw, after) {
  const wanted = items.map((it) => [String(key(it)), it]);
  const current = new Map([...box.children].map((c) => [c.dataset.key, c]));
  const keep = new Set(wanted.map(([k]) => k));
  for (const [k, el] of current) if (!keep.has(k)) el.remove();
  let previous = null;
  for (const [k, it] of wanted) {
    let el = current.get(k);
    const {cls, html, attrs} = draw(it);
    if (!el) {
      el = document.createElement("div");
      el.dataset.key = k;
      el.innerHTML = `<div class="view"></div><div class="keep"></div>`;
    }
    if (el.className !== cls) el.className = cls;
    for (const [name, value] of Object.entries(attrs || {})) if (el.getAttribute(name) !== value) el.setAttribute(name, value);
    const view = el.firstElementChild;
    if (view._html !== html) { view.innerHTML = html; view._html = html; }
    if (after) after(el, it);
    const next = previous ? previous.nextElementSibling : box.firstElementChild;
    if (next !== el) box.insertBefore(el, next);
    previous = el;
  }
  const empty = document.querySelector(`[data-empty="${box.id}"]`);
  if (empty) empty.classList.toggle("hidden", items.length > 0);
}
// Sets an element's markup only when it changed (keeps focus and selection otherwise).
function setHtml(el, html) { if (el._html !== html) { el.innerHTML = html; el._html = html; } }

// ---- notices ----
function toast(text, {urgent = false} = {}) {
  const el = document.createElement("div");
  el.className = urgent ? "toast urgent" : "toast";
  el.innerHTML = `<span></span><button type="button" aria-label="Dismiss">×</button>`;
  el.firstElementChild.textContent = text;
  el.lastElementChild.onclick = () => el.remove();
  $("toasts").append(el);
  // Urgent notices stay until dismissed; others go after a while.
  if (!urgent) setTimeout(() => el.remove(), 8000);
  $(urgent ? "alerter" : "announcer").textContent = text;
}
// Something the person is waiting for: said aloud to screen readers, shown until
// dismissed, in the tab title until they come back, with a sound and a system
// notification (while the tab is hidden) if they asked for them.
function attention(text) {
  toast(text, {urgent: true});
  // In the tab title until the person comes back to the page (or touches it).
  document.title = `● ${text} — mentorq`;
  if (localStorage.getItem("mq.sound") === "on") beep();
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    try { new Notification("mentorq", {body: text}); } catch (e) { /* some browsers only allow it from a worker */ }
  }
}
function beep() {
  try {
    const audio = new (window.AudioContext || window.webkitAudioContext)();
    const tone = audio.createOscillator(), gain = audio.createGain();
    tone.frequency.value = 880; gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    tone.connect(gain).connect(audio.destination); tone.start(); tone.stop(audio.currentTime + 0.6);
  } catch (e) { /* no audio here */ }
}
const resetTitle = () => { document.title = "mentorq"; };
window.addEventListener("focus", resetTitle);
for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, resetTitle);
document.addEventListener("visibilitychange", () => { if (!document.hidden) resetTitle(); });
function showDesktopState() {
  const supported = "Notification" in window;
  const permission = supported ? Notification.permission : "unsupported";
  $("desktop-state").textContent = {granted: "Desktop notifications are on.", denied: "Desktop notifications are blocked in this browser's site settings.",
    unsupported: "This browser has no desktop notifications.", default: ""}[permission];
  $("desktop-enable").classList.toggle("hidden", permission !== "default");
}

// ---- the API ----
// Errors in plain words: the API's own `detail` and field messages, never a fetch exception.
function explain(data, status) {
  if (data && data.fields) {
    return Object.entries(data.fields).map(([field, messages]) => {
      const name = field.replace(/_/g, " ");
      return `${name.charAt(0).toUpperCase()}${name.slice(1)} ${messages.join(" and ")}.`;
    }).join(" ");
  }
  if (data && data.detail) return data.detail;
  return status >= 500 ? "The server had a problem; please try again." : `The server answered ${status}.`;
}
const OFFLINE = "The server cannot be reached right now. Check your connection; the page keeps trying.";
async function api(method, path, body, retried) {
  const headers = {"Content-Type": "application/json"};
  if (state.access) headers.Authorization = `Bearer ${state.access}`;
  let res;
  try {
    res = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) { showOffline(true); throw new Error(OFFLINE); }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && data && data.code === "token_not_valid" && !retried && await refreshTokens()) {
    return api(method, path, body, true);
  }
  if (!res.ok) throw new Error(explain(data, res.status));
  return data;
}

// A download needs the access token, which a plain link cannot carry: fetch it, then
// hand the browser the file.
async function download(file, retried) {
  let res;
  try { res = await fetch(`/api/export/${file}`, {headers: {Authorization: `Bearer ${state.access}`}}); }
  catch (e) { throw new Error(OFFLINE); }
  if (res.status === 401 && !retried && await refreshTokens()) return download(file, true);
  if (!res.ok) throw new Error(explain(await res.json().catch(() => null), res.status));
  const blob = await res.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob); link.download = file;
  document.body.append(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  toast(`Downloaded ${file} (${blob.size.toLocaleString()} bytes)`);
}

async function refreshTokens() {
  if (!state.refresh) return false;
  let res;
  try {
    res = await fetch("/api/auth/refresh/", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify({refresh: state.refresh})});
  } catch (e) { return false; }
  if (!res.ok) { logout(); return false; }
  const pair = await res.json();
  saveTokens(pair.access, pair.refresh, state.user);
  return true;
}

function saveTokens(access, refresh, user) {
  Object.assign(state, {access, refresh, user});
  localStorage.setItem("mq.access", access); localStorage.setItem("mq.refresh", refresh);
  localStorage.setItem("mq.user", JSON.stringify(user));
}

function logout() {
  if (state.refresh && state.access) api("POST", "/api/auth/logout/", {refresh: state.refresh}).catch(() => {});
  const sound = localStorage.getItem("mq.sound");
  localStorage.clear();
  if (sound) localStorage.setItem("mq.sound", sound);
  Object.assign(state, {access: null, refresh: null, user: null, seq: null, epoch: null, tickets: new Map(), sessions: new Map(),
                        positions: new Map(), slots: new Map(), announcements: [], queue: null, booking: null});
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  for (const id of ["my-active", "my-history", "board-mine", "board-waiting", "board-helped", "announcements", "sessions", "queues", "my-slots", "mentors"]) $(id).replaceChildren();
  showLogin();
}

// ---- the live connection ----
// Reconnects back off exponentially with jitter (so a restarted server is not met by
// every page at the same instant) and resume from the last event seen.
function connect() {
  // `since` only makes sense in the history it came from: the epoch names it.
  const since = state.seq == null ? "" : `&since=${state.seq}&epoch=${encodeURIComponent(state.epoch || "")}`;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const queues = narrowed() ? `&queues=${state.profile.queues.join(",")}` : "";
  const ws = new WebSocket(`${proto}://${location.host}/ws?access_token=${encodeURIComponent(state.access)}${since}${queues}`);
  state.ws = ws;
  setConn("connecting");
  ws.onopen = () => { state.retry = 0; setConn("live"); };
  ws.onmessage = (m) => onMessage(JSON.parse(m.data));
  ws.onclose = async (e) => {
    if (state.ws !== ws) return;
    setConn("reconnecting");
    if (e.code === 4001) { state.seq = null; if (!await refreshTokens()) return; await loadMe().catch(() => {}); }
    if (e.code === 1006 || e.code === 1008) await refreshTokens().catch(() => {});
    const ceiling = Math.min(10000, 500 * 2 ** state.retry++);
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    setTimeout(() => { if (state.access && state.ws === ws) connect(); }, delay);
  };
}
let offlineTimer = null;
function setConn(kind) {
  const el = $("conn"); el.classList.remove("hidden", "live", "reconnecting");
  el.classList.add(kind);
  el.textContent = kind === "live" ? "live" : kind === "reconnecting" ? "reconnecting…" : "connecting…";
  state.live = kind === "live";
  clearTimeout(offlineTimer);
  // A blip is not news: the banner shows after a second and a half without a connection.
  if (state.live) showOffline(false); else offlineTimer = setTimeout(() => showOffline(true), 1500);
}
function showOffline(on) { $("offline").classList.toggle("hidden", !on); }

// Counts, waits and who-helps-whom depend on things a participant cannot see, so they
// are re-read (at most twice a second) whenever something moved.
let queueRefresh = null;
function refreshQueueSoon() {
  if (queueRefresh) return;
  queueRefresh = setTimeout(async () => {
    queueRefresh = null;
    try {
      const list = await api("GET", "/api/queues/");
      state.queues = new Map(list.map((q) => [q.id, q])); state.queue = state.queues.get(1) || state.queue;
      if (isStaff()) state.helping = await api("GET", "/api/mentors/online/");
      render();
    } catch (e) { /* the next message retries */ }
  }, 500);
}
// Statistics and the leaderboard follow tickets and feedback (re-read at most every 2 s).
let statsRefresh = null;
function refreshStatsSoon() {
  if (statsRefresh) return;
  statsRefresh = setTimeout(() => { statsRefresh = null; loadStats().catch(() => {}); }, 2000);
}

function onMessage(msg) {
  if (msg.type !== "snapshot" && msg.type !== "resume" && msg.type !== "error") refreshQueueSoon();
  switch (msg.type) {
    case "snapshot":
      state.tickets = new Map(msg.tickets.map((t) => [t.id, t]));
      state.sessions = new Map(msg.sessions.map((s) => [s.id, s]));
      state.announcements = msg.announcements; state.queue = msg.queue; state.seq = msg.seq; state.epoch = msg.epoch;
      state.queues = new Map(msg.queues.map((q) => [q.id, q]));
      refreshStatsSoon();
      break;
    case "resume": state.seq = msg.to; state.epoch = msg.epoch; break;
    case "event": applyEvent(msg); state.seq = msg.seq; break;
    case "position": state.positions.set(msg.ticket, msg); break;
    case "presence": state.presence = msg.queues || {}; break;
    case "error": console.warn("server says", msg); break;
  }
  render();
}

function applyEvent({kind, data}) {
  switch (kind) {
    case "ticket.created": case "ticket.updated": {
      const before = state.tickets.get(data.id);
      state.tickets.set(data.id, data);
      if (data.owner_email === state.user.email && data.status === "CLAIMED" && (!before || before.status !== "CLAIMED")) {
        attention(`${data.mentor} is on the way for “${data.title}”`);
      }
      refreshStatsSoon();
      break;
    }
    case "feedback.created": case "feedback.updated": refreshStatsSoon(); break;
    case "queue.created": case "queue.updated":
      if (data.archived) state.queues.delete(data.id);
      else state.queues.set(data.id, Object.assign(state.queues.get(data.id) || {open_count: 0, claimed_count: 0, mentors_online: 0}, data));
      break;
    case "announcement": state.announcements.unshift(data); toast(`Announcement: ${data.text}`); break;
    case "session.updated": state.sessions.set(data.id, data); break;
    case "session.reminder": {
      const s = data.session;
      attention(`Your session with ${s.mentor === state.user.id ? s.mentee_name : s.mentor_name} starts in ${data.minutes_before} minutes`);
      break;
    }
    case "availability.updated":
      for (const c of data.chunks) if (c.mentor === state.user.id) state.slots.set(c.id, c);
      for (const id of data.deleted) state.slots.delete(id);
      if (state.booking) loadTimes(state.booking.mentor).catch(() => {});
      break;
  }
}

// ---- rendering ----
function position(t) {
  const pos = state.positions.get(t.id);
  return {place: pos ? pos.position : t.position, wait: pos ? pos.estimated_wait_seconds : t.estimated_wait_seconds};
}

function ticketCard(t, forStaff) {
  const mine = t.owner_email === state.user.email;
  const holds = t.mentor_email === state.user.email;
  const live = isLive(t);
  const away = live && !t.active;
  const buttons = [];
  if (forStaff && t.status === "OPEN") buttons.push(`<button class="claim" data-act="CLAIMED">Claim</button>`);
  if (forStaff && t.status === "CLAIMED" && (holds || isManager())) {
    buttons.push(`<button class="close" data-act="CLOSED">Close</button>`);
    buttons.push(`<button class="unclaim secondary" data-act="OPEN">Unclaim</button>`);
  }
  if (!forStaff && mine && t.status === "CLAIMED") buttons.push(`<button class="close" data-act="CLOSED">Resolved</button>`);
  if (!forStaff && mine && live) {
    buttons.push(away ? `<button class="back secondary" data-active="true">I'm back</button>`
                      : `<button class="away secondary" data-active="false">I'm away</button>`);
    buttons.push(`<button class="cancel danger" data-act="CANCELLED">Cancel my ticket</button>`);
  }
  const match = forStaff && live && matchesMe(t);
  let line = "";
  if (!forStaff && t.status === "OPEN") {
    const {place, wait} = position(t);
    line = place ? `<p class="place">You're #${place} · ${fmtWait(wait)}</p>` : "";
  } else if (!forStaff && t.status === "CLAIMED") {
    line = `<p class="place">${esc(t.mentor)} is on the way</p>`;
  }
  const when = forStaff && t.status === "OPEN" ? `waiting ${fmtAge(t.created_datetime)}`
    : forStaff && t.status === "CLAIMED" && t.claimed_datetime ? `with ${esc(t.mentor)} for ${fmtAge(t.claimed_datetime)}`
    : fmtTime(t.created_datetime) + (t.mentor ? ` · with ${esc(t.mentor)}` : "");
  const html = `${line}<div><span class="status ${t.status}">${t.status}</span>${away ? ` <span class="status away">AWAY</span>` : ""}
      <strong>${esc(t.title)}</strong> <span class="muted">· ${esc(queueName(t.queue))}</span>
      ${match ? ` <span class="badge-match">matches my skills</span>` : ""}</div>
    ${t.tags.length ? `<div>${t.tags.map((g) => `<span class="tag">${esc(g)}</span>`).join("")}</div>` : ""}
    <div class="meta">${esc(t.location)} · ${esc(t.owner)}${mine && t.anonymous ? " (anonymous to mentors)" : ""} · <span class="age">${when}</span></div>
    ${t.comment ? `<div>${esc(t.comment)}</div>` : ""}
    ${buttons.length ? `<div class="actions">${buttons.join("")}</div>` : ""}`;
  return {cls: `ticket${match ? " match" : ""}`, html, attrs: {"data-id": String(t.id)}};
}

// The rating form of a closed ticket: made once, then left alone until it is sent.
function ratingForm(el, t) {
  const keep = el.lastElementChild;
  const wanted = t.owner_email === state.user.email && t.status === "CLOSED" && t.mentor && !t.feedback;
  if (!wanted) { if (keep.firstChild) keep.replaceChildren(); return; }
  if (keep.firstChild) return;
  const id = `rate-${t.id}`;
  keep.innerHTML = `<form class="rate">
      <div class="field"><label for="${id}">How did ${esc(t.mentor)} do?</label>
        <select id="${id}" required><option value="">Choose a rating</option><option value="5">5 — excellent</option>
          <option value="4">4 — good</option><option value="3">3 — okay</option><option value="2">2 — poor</option><option value="1">1 — bad</option></select></div>
      <div class="field"><label for="${id}-text">A word of thanks or advice (optional)</label><input id="${id}-text" maxlength="2000"></div>
      <button type="submit" class="secondary">Send the rating</button><div class="error" role="alert"></div></form>`;
}

function render() {
  if (!state.user || !state.queue) return;
  renderQueues();
  const all = [...state.tickets.values()];
  const mine = all.filter((t) => t.owner_email === state.user.email).sort((a, b) => b.id - a.id);
  const active = mine.filter(isLive);
  keyed($("my-active"), active, (t) => t.id, (t) => ticketCard(t, false));
  $("my-active-none").classList.toggle("hidden", active.length > 0);
  keyed($("my-history"), mine.filter((t) => !isLive(t)).slice(0, 20), (t) => t.id, (t) => ticketCard(t, false), ratingForm);
  renderAskForm(active);
  noticeNext(active);
  if (isStaff()) { renderDesk(); renderBoard(all); }
  keyed($("announcements"), state.announcements.slice(0, 20), (a) => a.id ?? a.created, (a) => ({cls: "item",
    html: `${esc(a.text)}<div class="meta">${esc(a.author)} · ${fmtTime(a.created)}</div>`}));
  const sessions = [...state.sessions.values()].filter((s) => new Date(s.end_time) > new Date()).sort((a, b) => a.start_time.localeCompare(b.start_time));
  keyed($("sessions"), sessions, (s) => s.id, sessionCard);
  if (has("mentor")) renderSlots();
}

// "You're next": said once per ticket, when it reaches the front.
function noticeNext(active) {
  for (const t of active) {
    const {place} = position(t);
    const before = state.noticed.get(t.id);
    if (t.status === "OPEN" && place === 1 && before !== undefined && before > 1) attention(`You're next in line for “${t.title}”`);
    if (t.status === "OPEN" && place) state.noticed.set(t.id, place);
  }
}

function renderAskForm(active) {
  const form = $("ticket-form"), closed = $("ticket-closed");
  const queues = [...state.queues.values()].sort((a, b) => a.id - b.id);
  fillSelect($("ticket-queue"), queues.map((q) => [q.id, q.open ? q.name : `${q.name} (closed)`]));
  $("ticket-queue-row").classList.toggle("hidden", queues.length < 2);
  renderTagChoices();
  const chosen = state.queues.get(+$("ticket-queue").value);
  // While a ticket is active there is nothing to ask; a closed queue says why instead.
  const busy = active.length > 0;
  const isClosed = chosen && !chosen.open;
  form.classList.toggle("hidden", busy);
  for (const el of form.querySelectorAll("input, textarea, #ticket-submit, #ticket-tags")) el.disabled = !!isClosed;
  form.querySelectorAll(".field, label.check, #ticket-submit").forEach((el) => {
    if (el.id !== "ticket-queue-row") el.classList.toggle("hidden", !!isClosed);
  });
  closed.classList.toggle("hidden", busy || !isClosed);
  if (isClosed) closed.textContent = `Queue closed${chosen.message ? ` — ${chosen.message}` : ""}`;
}

function renderBoard(all) {
  const queueFilter = $("filter-queue").value, tagFilter = $("filter-tag").value, matchOnly = $("filter-match").checked;
  const visible = all.filter(isLive).filter((t) => isManager() || staffs(t.queue))
    .filter((t) => !queueFilter || String(t.queue) === queueFilter)
    .filter((t) => !tagFilter || t.tags.some((g) => g.toLowerCase() === tagFilter.toLowerCase()))
    .filter((t) => !matchOnly || matchesMe(t));
  const byAge = (a, b) => a.created_datetime.localeCompare(b.created_datetime) || a.id - b.id;
  const mine = visible.filter((t) => t.status === "CLAIMED" && t.mentor_email === state.user.email).sort(byAge);
  const waiting = visible.filter((t) => t.status === "OPEN").sort(byAge);
  const helped = visible.filter((t) => t.status === "CLAIMED" && t.mentor_email !== state.user.email).sort(byAge);
  keyed($("board-mine"), mine, (t) => t.id, (t) => ticketCard(t, true));
  keyed($("board-waiting"), waiting, (t) => t.id, (t) => ticketCard(t, true));
  keyed($("board-helped"), helped, (t) => t.id, (t) => ticketCard(t, true));
  $("count-mine").textContent = mine.length ? `(${mine.length})` : "";
  $("count-waiting").textContent = waiting.length ? `(${waiting.length})` : "";
  $("count-helped").textContent = helped.length ? `(${helped.length})` : "";
  const queues = [...state.queues.values()].filter((q) => isManager() || staffs(q.id)).sort((a, b) => a.id - b.id);
  fillSelect($("filter-queue"), [["", isManager() ? "All queues" : "All my queues"], ...queues.map((q) => [q.id, q.name])]);
  const tags = [...new Set(queues.flatMap((q) => q.tags))].sort();
  fillSelect($("filter-tag"), [["", "Any topic"], ...tags.map((g) => [g, g])]);
}

function renderQueues() {
  const queues = [...state.queues.values()].sort((a, b) => a.id - b.id);
  const online = (q) => state.presence[q.id] ?? q.mentors_online;
  keyed($("queues"), queues, (q) => q.id, (q) => ({cls: "queue-row", attrs: {"data-queue": String(q.id)}, html: `
      <strong>${esc(q.name)}</strong><span class="status ${q.open ? "OPEN" : "CANCELLED"}">${q.open ? "OPEN" : "CLOSED"}</span>
      <span><span class="big">${q.open_count}</span> waiting</span><span>${q.claimed_count} being helped</span>
      <span class="mentors-online">${plural(online(q), "mentor", "mentors")} available</span>
      <span class="muted">${!q.open ? esc(q.message) : q.estimated_wait_seconds == null ? "no estimate until a mentor is available"
        : `a new ticket waits ${fmtWait(q.estimated_wait_seconds)}`}</span>
      ${q.open && q.message ? `<span class="muted">${esc(q.message)}</span>` : ""}
      ${q.tags.length ? `<span>${q.tags.map((g) => `<span class="tag">${esc(g)}</span>`).join("")}</span>` : ""}`}));
  fillSelect($("queue-edit-select"), queues.map((q) => [q.id, q.name]));
  const edited = state.queues.get(+$("queue-edit-select").value);
  if (edited) {
    $("queue-toggle").textContent = edited.open ? "Close the queue" : "Open the queue";
    $("queue-archive").disabled = edited.id === 1;
  }
}

// Options as `[value, label]`; the choice survives a redraw.
function fillSelect(select, options) {
  const chosen = select.value;
  setHtml(select, options.map(([v, label]) => `<option value="${esc(v)}">${esc(label)}</option>`).join(""));
  if (options.some(([v]) => String(v) === chosen)) select.value = chosen;
}

function renderTagChoices() {
  const q = state.queues.get(+$("ticket-queue").value);
  const box = $("ticket-tags");
  const tags = q ? q.tags : [];
  const key = tags.join("\u0000");
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.classList.toggle("hidden", !tags.length);
  box.innerHTML = `<legend>Topics (up to 5)</legend>` + tags.map((g) =>
    `<label class="check"><input type="checkbox" value="${esc(g)}"> ${esc(g)}</label>`).join("");
}

function renderDesk() {
  if (!has("mentor")) return;
  $("presence-status").textContent = state.profile.presence;
  $("presence-toggle").textContent = state.profile.presence === "away" ? "I'm available" : "Step away";
  const queues = [...state.queues.values()].sort((a, b) => a.id - b.id);
  const key = queues.map((q) => `${q.id}:${q.name}`).join("|") + `/${JSON.stringify(state.profile.queues)}`;
  if ($("my-queues").dataset.key !== key) {
    $("my-queues").dataset.key = key;
    $("my-queues").innerHTML = `<legend>Queues I staff</legend>` + queues.map((q) =>
      `<label class="check"><input type="checkbox" value="${q.id}" ${staffs(q.id) ? "checked" : ""}> ${esc(q.name)}</label>`).join("");
  }
  const title = (id) => { const t = state.tickets.get(id); return t ? `“${esc(t.title)}” (${esc(t.owner)})` : `ticket ${id}`; };
  const rows = state.helping.filter((m) => m.status !== "offline" || m.claimed.length);
  setHtml($("helping"), rows.length ? `<table><tr><th scope="col">Mentor</th><th scope="col">Status</th><th scope="col">Helping</th></tr>${rows.map((m) =>
    `<tr data-mentor="${m.id}"><td>${esc(m.name)}</td><td><span class="status">${m.status.replace("_", " ")}</span></td>
     <td>${m.claimed.map(title).join(", ") || "–"}</td></tr>`).join("")}</table>` : `<p class="muted">Nobody yet.</p>`);
}

// A mentor's own published slots, by day, each deletable while nobody holds it.
function renderSlots() {
  const upcoming = [...state.slots.values()].filter((c) => new Date(c.end_time) > new Date())
    .sort((a, b) => a.start_time.localeCompare(b.start_time));
  $("slots-zone").textContent = upcoming.length ? `Times in ${zone}.` : "";
  const days = groupByDay(upcoming);
  setHtml($("my-slots"), days.length ? days.map(([day, chunks]) => `<div class="day"><h4>${esc(day)}</h4>${chunks.map((c) =>
      `<div class="slot-row" data-slot="${c.id}"><span class="when">${fmtClock(c.start_time)}–${fmtClock(c.end_time)}</span>
        <span class="status ${c.status}">${c.status}</span>
        ${c.status === "OPEN" ? `<button type="button" class="danger delete-slot" data-delete-slot="${c.id}" aria-label="Delete the slot at ${fmtClock(c.start_time)} ${esc(day)}">Delete</button>` : ""}</div>`).join("")}</div>`).join("")
    : `<p class="muted">You have not published any upcoming time.</p>`);
}
function groupByDay(chunks) {
  const days = [];
  for (const c of chunks) {
    const day = dayName(c.start_time);
    if (!days.length || days[days.length - 1][0] !== day) days.push([day, []]);
    days[days.length - 1][1].push(c);
  }
  return days;
}

const SETTINGS = [["email", "Send me e-mail at all"], ["ticket_claimed", "A mentor claimed my ticket"],
  ["session_requested", "Someone asks for a session with me"], ["session_confirmed", "A session is confirmed"],
  ["session_cancelled", "A session is cancelled"], ["sixty_minute_alert", "60 minutes before a session"],
  ["fifteen_minute_alert", "15 minutes before a session"]];
async function loadSettings() {
  const [settings, calendar] = await Promise.all([api("GET", "/api/notification-settings/"), api("GET", "/api/calendar/")]);
  $("settings").innerHTML = `<legend>Tell me, also by e-mail</legend>` + SETTINGS.map(([key, label]) =>
    `<label class="check"><input type="checkbox" data-setting="${key}" ${settings[key] ? "checked" : ""}> ${esc(label)}</label>`).join("");
  showCalendar(calendar.url);
}
function showCalendar(url) { $("calendar-url").value = url; $("calendar-url").setAttribute("value", url); }

async function loadProfile() {
  const [me, slots] = await Promise.all([api("GET", "/api/mentors/me/"), api("GET", `/api/availability/?mentor=${state.user.id}`)]);
  state.profile = {skills: me.skills, about_me: me.about_me, team_number: me.team_number, queues: me.queues, presence: me.presence};
  state.slots = new Map(slots.map((c) => [c.id, c]));
  $("profile-skills").value = state.profile.skills.join(", ");
  $("profile-about").value = state.profile.about_me;
}

function sessionCard(s) {
  const iAmMentor = s.mentor === state.user.id;
  const buttons = [];
  if (iAmMentor && s.status === "PENDING") buttons.push(`<button data-session="${s.id}" data-act="CONFIRMED">Confirm</button>`);
  if (s.status === "PENDING" || s.status === "CONFIRMED") buttons.push(`<button class="danger" data-session="${s.id}" data-act="CANCELLED">Cancel the session</button>`);
  return {cls: "item", attrs: {"data-session-id": String(s.id)}, html: `<span class="status ${s.status}">${s.status}</span>
    <strong>${esc(iAmMentor ? s.mentee_name : s.mentor_name)}</strong> · ${dayName(s.start_time)} ${fmtClock(s.start_time)}–${fmtClock(s.end_time)} (${s.session_length} min)
    ${s.topic ? `<div class="meta">${esc(s.topic)}</div>` : ""}
    ${s.meeting_url ? `<div><a href="${esc(s.meeting_url)}" target="_blank" rel="noopener">Join the meeting</a></div>` : ""}
    ${buttons.length ? `<div class="actions">${buttons.join("")}</div>` : ""}`};
}

// ---- booking ----
async function search() {
  const query = splitList($("search-skills").value).map((s) => `skill=${encodeURIComponent(s)}`).join("&");
  const mentors = (await api("GET", `/api/mentors/?${query}`)).filter((m) => m.id !== state.user.id);
  setHtml($("mentors"), mentors.length ? mentors.map((m) => `<div class="item"><strong>${esc(m.name)}</strong>
      <div class="meta">${esc(m.skills.join(", "))}${m.about_me ? " · " + esc(m.about_me) : ""}</div>
      <div class="actions">${m.next_open.length ? `<button class="secondary" data-times="${m.id}" data-name="${esc(m.name)}">See ${esc(m.name)}'s times</button>`
        : `<span class="muted">No open time.</span>`}</div></div>`).join("")
    : `<p class="muted">No mentor has all of these skills.</p>`);
}
async function loadTimes(mentor, name) {
  const open = await api("GET", `/api/availability/?mentor=${mentor}&status=OPEN`);
  state.booking = {mentor, name: name || (state.booking && state.booking.name) || "the mentor", open};
  renderTimes();
}
// Only starts that can be booked at the chosen length: a 60-minute session needs the
// mentor's next chunk open too.
function bookable(open, length) {
  const now = new Date();
  const future = open.filter((c) => new Date(c.start_time) > now);
  if (length === 30) return future;
  const starts = new Set(open.map((c) => new Date(c.start_time).getTime()));
  return future.filter((c) => starts.has(new Date(c.end_time).getTime()));
}
function renderTimes() {
  const b = state.booking; if (!b) return;
  const length = +document.querySelector("#booking-length input:checked").value;
  const starts = bookable(b.open, length);
  $("booking").classList.remove("hidden");
  $("booking-title").textContent = `${b.name}'s open times`;
  $("booking-zone").textContent = `Times in ${zone}.`;
  const days = groupByDay(starts);
  setHtml($("booking-days"), days.length ? days.map(([day, chunks]) => `<div class="day"><h4>${esc(day)}</h4><div class="slots">${chunks.map((c) => {
      const end = new Date(new Date(c.start_time).getTime() + length * 60000).toISOString();
      return `<button class="secondary" data-chunk="${c.id}" data-length="${length}" data-when="${esc(`${day}, ${fmtClock(c.start_time)}–${fmtClock(end)}`)}">${fmtClock(c.start_time)}–${fmtClock(end)}</button>`;
    }).join("")}</div></div>`).join("")
    : `<p class="muted">No ${length}-minute time is open${length === 60 ? "; try 30 minutes" : ""}.</p>`);
}
// The topic dialog: "Request the session" books, "Cancel" (or Escape) books nothing.
function askTopic(when) {
  return new Promise((resolve) => {
    const dialog = $("topic-dialog");
    $("topic-when").textContent = `${state.booking.name}, ${when}.`;
    $("topic-text").value = "";
    dialog.returnValue = "cancel";
    dialog.onclose = () => resolve(dialog.returnValue === "book" ? $("topic-text").value : null);
    dialog.showModal();
  });
}

async function loadStats() {
  const board = await api("GET", "/api/feedback/leaderboard/?limit=10");
  setHtml($("leaderboard"), board.length ? `<table><tr><th scope="col">#</th><th scope="col">Mentor</th><th scope="col">Rating</th><th scope="col">Ratings</th></tr>${board.map((r, i) =>
    `<tr><td>${i + 1}</td><td>${esc(r.mentor_name)}</td><td>${r.average_rating.toFixed(2)} ★</td><td>${r.count}</td></tr>`).join("")}</table>` : `<p class="muted">No ratings yet.</p>`);
  if (!isManager()) return;
  const stats = await api("GET", "/api/tickets/stats/");
  const mins = (v) => v == null ? "–" : `${Math.round(v / 60)} min`;
  setHtml($("stats"), `<table><tr><th scope="row">Tickets</th><td id="stat-total">${stats.total}</td><th scope="row">Median wait</th><td>${mins(stats.median_wait_seconds)}</td></tr>
    <tr><th scope="row">Closed</th><td id="stat-closed">${stats.counts.CLOSED}</td><th scope="row">p90 wait</th><td>${mins(stats.p90_wait_seconds)}</td></tr></table>
    <h3>Mentors</h3><table><tr><th scope="col">Mentor</th><th scope="col">Claimed</th><th scope="col">Closed</th><th scope="col">Rating</th></tr>${stats.mentors.map((m) =>
      `<tr><td>${esc(m.mentor)}</td><td>${m.claimed}</td><td>${m.closed}</td><td>${m.average_rating?.toFixed(1) ?? "–"}</td></tr>`).join("")}</table>`);
}

// ---- screens ----
// Each role's panels, most important first (a phone shows them stacked in this order).
const LAYOUT = {
  participant: ["participant-panel", "announce-panel", "queue-panel", "sessions-panel", "history-panel", "stats-panel", "settings-panel"],
  mentor: ["board-panel", "desk-panel", "sessions-panel", "availability-panel", "announce-panel", "queue-panel", "stats-panel", "settings-panel"],
  manager: ["board-panel", "queue-panel", "announce-panel", "stats-panel", "desk-panel", "sessions-panel", "availability-panel", "settings-panel"],
};
function showLogin() {
  $("login").classList.remove("hidden"); $("app").classList.add("hidden"); $("logout").classList.add("hidden");
  $("conn").classList.add("hidden"); $("offline").classList.add("hidden"); $("who").textContent = "";
}
async function loadMe() { const me = await api("GET", "/api/me/"); saveTokens(state.access, state.refresh, me); }
function showApp() {
  $("login").classList.add("hidden"); $("app").classList.remove("hidden"); $("logout").classList.remove("hidden");
  $("who").textContent = `${state.user.name} (${state.user.roles.filter((r) => r !== "hacker").join(", ") || "participant"})`;
  const role = isManager() ? "manager" : has("mentor") ? "mentor" : "participant";
  const wanted = (el) => {
    const f = el.dataset.for;
    return f === "all" || f === role || (f === "staff" && isStaff()) || (f === "mentor" && has("mentor")) || (f === "manager" && isManager());
  };
  document.querySelectorAll("[data-for]").forEach((el) => el.classList.toggle("hidden", !wanted(el)));
  for (const id of LAYOUT[role]) $("app").append($(id));
  showDesktopState();
  $("notice-sound").checked = localStorage.getItem("mq.sound") === "on";
  loadStats().catch((e) => toast(e.message));
  loadSettings().catch((e) => toast(e.message));
  const ready = has("mentor") ? loadProfile().catch((e) => toast(e.message)) : Promise.resolve();
  ready.then(connect);
}

$("login-toggle").onclick = () => {
  state.registering = !state.registering;
  $("login-name-row").classList.toggle("hidden", !state.registering);
  $("login-title").textContent = $("login-submit").textContent = state.registering ? "Register" : "Log in";
  $("login-toggle").textContent = state.registering ? "Have an account? Log in" : "No account yet? Register";
  $("login-password").autocomplete = state.registering ? "new-password" : "current-password";
};
$("login-form").onsubmit = async (e) => {
  e.preventDefault(); $("login-error").textContent = "";
  const email = $("login-email").value, password = $("login-password").value;
  try {
    if (state.registering) await api("POST", "/api/auth/register/", {email, password, name: $("login-name").value});
    const t = await api("POST", "/api/auth/token/", {email, password, device: "board"});
    saveTokens(t.access, t.refresh, t.user); showApp();
  } catch (err) { $("login-error").textContent = err.message; }
};
$("logout").onclick = logout;
$("ticket-form").onsubmit = async (e) => {
  e.preventDefault(); $("ticket-error").textContent = "";
  try {
    const t = await api("POST", "/api/tickets/", {title: $("ticket-title").value, location: $("ticket-location").value,
                                                  comment: $("ticket-comment").value, contact: $("ticket-contact").value,
                                                  anonymous: $("ticket-anonymous").checked, queue: +$("ticket-queue").value,
                                                  tags: [...$("ticket-tags").querySelectorAll("input:checked")].map((i) => i.value)});
    state.tickets.set(t.id, t); e.target.reset(); $("ticket-tags").dataset.key = ""; render();
  } catch (err) { $("ticket-error").textContent = err.message; }
};
document.body.addEventListener("click", async (e) => {
  const b = e.target.closest("button"); if (!b) return;
  const card = b.closest(".ticket");
  const where = card ? card.querySelector(".error") : null;
  try {
    if (card && b.dataset.act) {
      const t = await api("PATCH", `/api/tickets/${card.dataset.id}/`, {status: b.dataset.act});
      state.tickets.set(t.id, t); render();
    } else if (card && b.dataset.active) {
      const t = await api("PATCH", `/api/tickets/${card.dataset.id}/`, {active: b.dataset.active === "true"});
      state.tickets.set(t.id, t); render();
    } else if (b.dataset.export) {
      await download(b.dataset.export);
    } else if (b.dataset.session) {
      const s = await api("PATCH", `/api/sessions/${b.dataset.session}/`, {status: b.dataset.act});
      state.sessions.set(s.id, s); render();
    } else if (b.dataset.times) {
      $("booking-error").textContent = "";
      await loadTimes(+b.dataset.times, b.dataset.name);
    } else if (b.dataset.chunk) {
      $("booking-error").textContent = "";
      const topic = await askTopic(b.dataset.when);
      if (topic === null) return;
      const s = await api("POST", "/api/sessions/", {availability: +b.dataset.chunk, session_length: +b.dataset.length, topic});
      state.sessions.set(s.id, s); render(); toast(`Requested a session with ${s.mentor_name}`);
      loadTimes(s.mentor).catch(() => {});
    } else if (b.dataset.deleteSlot) {
      await api("DELETE", `/api/availability/${b.dataset.deleteSlot}/`);
      state.slots.delete(+b.dataset.deleteSlot); render(); toast("Slot deleted");
    }
  } catch (err) {
    if (b.dataset.chunk || b.dataset.times) $("booking-error").textContent = err.message;
    else if (b.dataset.deleteSlot) $("availability-error").textContent = err.message;
    else if (where) where.textContent = err.message;
    toast(err.message);
  }
});
document.body.addEventListener("submit", async (e) => {
  if (!e.target.classList.contains("rate")) return;
  e.preventDefault();
  const form = e.target, card = form.closest(".ticket"), error = form.querySelector(".error");
  const rating = +form.querySelector("select").value;
  if (!rating) { error.textContent = "Choose a rating from 1 to 5 first."; return; }
  try {
    await api("POST", "/api/feedback/", {ticket: +card.dataset.id, rating, comments: form.querySelector("input").value});
    const t = state.tickets.get(+card.dataset.id);
    if (t) state.tickets.set(t.id, Object.assign({}, t, {feedback: "sent"}));
    render(); refreshStatsSoon(); toast("Thanks for the feedback!");
  } catch (err) { error.textContent = err.message; }
});
const editedQueue = () => state.queues.get(+$("queue-edit-select").value);
$("ticket-queue").onchange = () => { renderTagChoices(); render(); };
for (const id of ["filter-queue", "filter-tag", "filter-match"]) $(id).onchange = render;
$("booking-length").onchange = renderTimes;
$("queue-edit-select").onchange = () => {
  const q = editedQueue(); if (!q) return;
  $("queue-message-input").value = q.message; $("queue-tags-input").value = q.tags.join(", "); render();
};
$("queue-toggle").onclick = () => { const q = editedQueue(); if (q) api("PATCH", `/api/queues/${q.id}/`, {open: !q.open}).then(refreshQueueSoon).catch((e) => { $("queue-error").textContent = e.message; }); };
$("queue-archive").onclick = () => { const q = editedQueue(); if (q && confirm(`Archive “${q.name}”? It takes no new tickets.`)) api("PATCH", `/api/queues/${q.id}/`, {archived: true}).catch((e) => { $("queue-error").textContent = e.message; }); };
$("queue-form").onsubmit = (e) => {
  e.preventDefault(); const q = editedQueue(); if (!q) return; $("queue-error").textContent = "";
  api("PATCH", `/api/queues/${q.id}/`, {message: $("queue-message-input").value, tags: splitList($("queue-tags-input").value)})
    .then(() => { toast(`Saved “${q.name}”`); refreshQueueSoon(); }).catch((er) => { $("queue-error").textContent = er.message; });
};
$("new-queue-form").onsubmit = async (e) => {
  e.preventDefault(); $("new-queue-error").textContent = "";
  const body = {name: $("new-queue-name").value, tags: splitList($("new-queue-tags").value)};
  if ($("new-queue-cooldown").value !== "") body.cooldown_seconds = +$("new-queue-cooldown").value;
  try { const q = await api("POST", "/api/queues/", body); state.queues.set(q.id, q); e.target.reset(); render(); toast(`Created “${q.name}”`); }
  catch (err) { $("new-queue-error").textContent = err.message; }
};
$("presence-toggle").onclick = async () => {
  const status = state.profile.presence === "away" ? "available" : "away";
  try { state.profile.presence = (await api("PUT", "/api/presence/", {status})).status; render(); refreshQueueSoon(); } catch (err) { toast(err.message); }
};
// The profile is one PUT: every field is sent, so saving one never erases another.
const profileBody = (over) => Object.assign({skills: state.profile.skills, about_me: state.profile.about_me,
  team_number: state.profile.team_number, queues: state.profile.queues}, over);
const keepProfile = (p) => Object.assign(state.profile, {skills: p.skills, about_me: p.about_me, team_number: p.team_number, queues: p.queues});
$("my-queues-form").onsubmit = async (e) => {
  e.preventDefault();
  const boxes = [...$("my-queues").querySelectorAll("input")];
  const chosen = boxes.filter((b) => b.checked).map((b) => +b.value);
  // Every box ticked means every queue, including ones made later.
  const queues = chosen.length === boxes.length ? null : chosen;
  try {
    keepProfile(await api("PUT", "/api/mentors/me/", profileBody({queues})));
    toast("Saved your queues");
    // A fresh snapshot for the new set of queues.
    state.seq = null; if (state.ws) state.ws.close();
  } catch (err) { toast(err.message); }
};
$("profile-form").onsubmit = async (e) => {
  e.preventDefault(); $("profile-error").textContent = "";
  try {
    keepProfile(await api("PUT", "/api/mentors/me/", profileBody({skills: splitList($("profile-skills").value), about_me: $("profile-about").value})));
    $("profile-skills").value = state.profile.skills.join(", ");
    render(); toast("Profile saved");
  } catch (err) { $("profile-error").textContent = err.message; }
};
$("announce-form").onsubmit = async (e) => {
  e.preventDefault();
  try { await api("POST", "/api/announcements/", {text: $("announce-text").value}); e.target.reset(); } catch (err) { toast(err.message); }
};
$("availability-form").onsubmit = async (e) => {
  e.preventDefault(); $("availability-error").textContent = "";
  if (!$("availability-start").value || !$("availability-end").value) { $("availability-error").textContent = "Choose when your time starts and ends."; return; }
  const iso = (v) => new Date(v).toISOString();
  try {
    const chunks = await api("POST", "/api/availability/", {start_time: iso($("availability-start").value), end_time: iso($("availability-end").value)});
    for (const c of chunks) state.slots.set(c.id, c);
    render(); toast(`Published ${plural(chunks.length, "half-hour slot", "half-hour slots")}`);
  } catch (err) { $("availability-error").textContent = err.message; }
};
$("settings").onchange = async (e) => {
  const key = e.target.dataset.setting; if (!key) return;
  try { await api("PATCH", "/api/notification-settings/", {[key]: e.target.checked}); toast("Notification settings saved"); }
  catch (err) { e.target.checked = !e.target.checked; toast(err.message); }
};
$("notice-sound").onchange = (e) => { localStorage.setItem("mq.sound", e.target.checked ? "on" : "off"); if (e.target.checked) beep(); };
$("desktop-enable").onclick = async () => {
  if ("Notification" in window) await Notification.requestPermission().catch(() => {});
  showDesktopState();
};
$("calendar-copy").onclick = async () => {
  try { await navigator.clipboard.writeText($("calendar-url").value); toast("Calendar link copied"); }
  catch (err) { $("calendar-url").select(); document.execCommand("copy"); toast("Calendar link copied"); }
};
$("calendar-rotate").onclick = async () => {
  try { showCalendar((await api("POST", "/api/calendar/rotate/", {})).url); toast("The old calendar link no longer works"); }
  catch (err) { toast(err.message); }
};
$("search-form").onsubmit = (e) => { e.preventDefault(); search().catch((er) => { $("booking-error").textContent = er.message; }); };
// Ages ("waiting 12 min") move on by themselves, and the queues' counts (which also
// move with tickets a participant is not shown) are re-read.
setInterval(() => { if (state.user && state.queue) { render(); refreshQueueSoon(); } }, 30000);
document.addEventListener("visibilitychange", () => { if (!document.hidden && state.user && state.queue) refreshQueueSoon(); });

if (state.access && state.user) { loadMe().then(showApp).catch(() => showLogin()); } else { showLogin(); }
