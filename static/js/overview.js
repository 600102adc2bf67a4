// Overview: live load and status per feeder row, header counters, and the map.
import { connectLive, debounce, fetchJson, figureFrom, PLOT_CONFIG } from "./live.js";

const STATUS_TEXT = { normal: "Normal", at_risk: "At risk", curtailing: "Curtailing", offline: "Offline" };
const table = document.getElementById("feeder-table");
const mapNode = document.getElementById("feeder-map");

if (mapNode && window.Plotly) {
  const figure = figureFrom("map-figure");
  window.Plotly.newPlot(mapNode, figure.data, figure.layout, PLOT_CONFIG);
  // Clicking a substation filters the list to it.
  mapNode.on("plotly_click", (event) => {
    const code = event.points[0] && event.points[0].customdata;
    if (code) window.location.search = `?substation=${encodeURIComponent(code)}`;
  });
}

function row(feederId) {
  return table ? table.querySelector(`tr[data-feeder-id="${feederId}"]`) : null;
}

function setStatus(tr, status) {
  if (!status || !STATUS_TEXT[status]) return;
  tr.className = tr.className.replace(/\bstatus-\S+/g, "").trim() + ` status-${status}`;
  tr.querySelector(".status").textContent = STATUS_TEXT[status];
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
  } catch (error) {
    console.warn(error);
  }
}, 400);

function applyReading(p) {
  const tr = row(p.feeder_id);
  if (!tr) return;
  setLoad(tr, p.load_percent);
  setStatus(tr, p.status);
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
      const tr = row(p.feeder_id);
      if (tr) setStatus(tr, p.status);
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
  { onReconnect: refreshCounters },
);
// Counters follow event.updated/feeder.status/feeder.alert (see FeedersOverviewConsumer);
// action.updated is not pushed to feeders.all, so a slow timer catches an action that ends
// on its own without an event push.
setInterval(refreshCounters, 15000);
