// Overview: live load and status per feeder row, rows kept in order as statuses change,
// the header counters and attention panel, the network view and the new-alarm cue.
import { alarmCue } from "./alarm_cue.js";
import { connectLive, debounce, fetchJson } from "./live.js";

const STATUS_TEXT = { normal: "Normal", at_risk: "At risk", curtailing: "Curtailing", offline: "Offline" };
// Worst first: a substation takes the status of its worst feeder (dnoctl.charts.STATUS_SEVERITY).
const SEVERITY = ["at_risk", "curtailing", "offline", "normal"];
const table = document.getElementById("feeder-table");
const network = () => document.getElementById("network");
const cue = alarmCue();

function row(feederId) {
  return table.querySelector(`tr[data-feeder-id="${feederId}"]`);
}

function setRowStatus(tr, status) {
  tr.className = tr.className.replace(/\bstatus-\S+/g, "").trim() + ` status-${status}`;
  tr.dataset.status = status;
  tr.querySelector(".status").textContent = STATUS_TEXT[status];
}

function networkCell(feederId) {
  const node = network();
  return node ? node.querySelector(`.cell[data-feeder-id="${feederId}"]`) : null;
}

function setCellStatus(cell, status, loadPercent) {
  const code = cell.getAttribute("aria-label").split(":")[0];
  if (cell.dataset.status !== status) {
    cell.className = `cell status-${status}`;
    cell.dataset.status = status;
    cell.setAttribute("aria-label", `${code}: ${STATUS_TEXT[status]}`);
    const substation = cell.closest(".substation");
    const statuses = new Set([...substation.querySelectorAll(".cell")].map((c) => c.dataset.status));
    const worst = SEVERITY.find((s) => statuses.has(s)) || "normal";
    substation.className = `substation status-${worst}`;
    substation.dataset.status = worst;
  }
  const load = loadPercent === null || loadPercent === undefined ? "" : ` · ${Math.round(Number(loadPercent))}%`;
  cell.title = `${code} · ${STATUS_TEXT[status]}${load}`;
}

function setLoad(tr, percent) {
  if (percent === null || percent === undefined) return;
  const value = Number(percent);
  tr.querySelector(".load-value").textContent = value.toFixed(1);
  const bar = tr.querySelector(".load-bar .load-fill");
  if (bar) bar.setAttribute("width", `${Math.min(value, 120) / 1.2}%`);
  tr.dataset.load = value;
  tr.classList.toggle("over-threshold", value >= Number(tr.dataset.atRisk));
}

function flash(tr) {
  tr.classList.remove("flash");
  void tr.offsetWidth; // restart the animation
  tr.classList.add("flash");
}

// The server sorts and pages: after a status change, fetch this page's rows again so a feeder
// that went at risk moves up (or onto this page) and the order stays the one the headers say.
const refreshRows = debounce(async () => {
  try {
    const data = await fetchJson(`${table.dataset.rowsUrl}${window.location.search}`);
    const body = document.getElementById("feeder-rows");
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.closest("tr") : null;
    body.innerHTML = data.rows_html;
    const refocus = focused && row(focused.dataset.feederId);
    if (refocus) refocus.querySelector("a").focus();
    document.getElementById("feeder-pager-top").innerHTML = data.pager_html;
    document.getElementById("feeder-pager-bottom").innerHTML = data.pager_bottom_html;
    table.dataset.order = [...body.querySelectorAll("tr[data-feeder-id]")].map((tr) => tr.dataset.feederId).join(",");
  } catch (error) {
    console.warn(error);
  }
}, 400);

const refreshCounters = debounce(async () => {
  try {
    const counters = await fetchJson(table.dataset.countersUrl);
    const attention = document.getElementById("attention");
    if (attention && counters.attention_html !== undefined) attention.innerHTML = counters.attention_html;
    const budget = document.getElementById("dcc-budget");
    if (budget && counters.budget_html !== undefined) budget.innerHTML = counters.budget_html;
    const alarms = document.getElementById("alarms-counter");
    if (alarms) alarms.classList.toggle("hot", Number(counters.protection_alarms) > 0);
    for (const [name, value] of Object.entries(counters)) {
      const node = document.querySelector(`[data-counter="${name}"]`);
      if (node) node.textContent = value;
    }
    if (counters.unacknowledged) cue.observe(counters.unacknowledged);
  } catch (error) {
    console.warn(error);
  }
}, 400);

async function refreshNetwork() {
  try {
    const response = await fetch(table.dataset.networkUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${table.dataset.networkUrl}: ${response.status}`);
    document.getElementById("network-view").innerHTML = await response.text();
  } catch (error) {
    console.warn(error);
  }
}

const refreshNetworkSoon = debounce(refreshNetwork, 400);

// The network view holds every feeder's last status, on this page or not: a reading whose
// status differs from it is a status change, and only then are the rows fetched again
// (readings arrive every few seconds for every feeder).
function applyStatus(feederId, status, loadPercent) {
  if (!status || !STATUS_TEXT[status]) return;
  const tr = row(feederId);
  const cell = networkCell(feederId);
  const previous = cell ? cell.dataset.status : tr ? tr.dataset.status : status;
  if (cell) setCellStatus(cell, status, loadPercent);
  if (tr) setRowStatus(tr, status);
  if (previous !== status) refreshRows();
  // A compact view draws no cell for a normal feeder: one that leaves normal needs the
  // view fetched again (its cell and its substation's counts and colour).
  const compact = network() && network().dataset.compact === "1";
  if (compact && !cell && status !== "normal") {
    refreshNetworkSoon();
    refreshRows();
  }
}

function applyReading(p) {
  applyStatus(p.feeder_id, p.status, p.load_percent);
  const tr = row(p.feeder_id);
  if (!tr) return;
  setLoad(tr, p.load_percent);
  const last = tr.querySelector(".last-reading");
  if (last && p.measured_at_label) last.textContent = p.measured_at_label;
  flash(tr);
}

connectLive(
  "/ws/feeders/",
  {
    "feeder.reading": applyReading,
    // A head-end batch moving many feeders arrives as one list (feeders/events.py).
    "feeder.readings": (p) => (p.readings || []).forEach(applyReading),
    "feeder.status": (p) => {
      applyStatus(p.feeder_id, p.status, p.load_percent);
      refreshCounters();
    },
    "feeder.alert": () => refreshCounters(),
    // An acknowledgement changes the attention panel.
    "feeder.updated": () => refreshCounters(),
    "event.updated": () => refreshCounters(),
    // An at-risk feeder's time-to-failure clock or escalation alarm, and the DCC budget.
    "protection.clock": () => refreshCounters(),
    "protection.budget": () => refreshCounters(),
  },
  {
    onReconnect: () => {
      refreshCounters();
      refreshRows();
      refreshNetwork();
    },
  },
);
// Counters follow event.updated/feeder.status/feeder.alert (see FeedersOverviewConsumer);
// action.updated is not pushed to feeders.all, so a slow timer catches an action that ends
// on its own without an event push, and puts rows sorted by load back in order.
setInterval(() => {
  refreshCounters();
  refreshRows();
}, 15000);
