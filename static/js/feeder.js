// Feeder page: the load chart extended live by readings, range switching without reload,
// status and control outcomes as they happen.
import { connectLive, debounce, fetchJson, figureFrom, PLOT_CONFIG } from "./live.js";
import { refreshProtection } from "./protection.js";

const head = document.getElementById("feeder-head");
const feederId = head.dataset.feederId;
const phases = Number(head.dataset.phases);
const chart = document.getElementById("load-chart");
const STATUS_TEXT = { normal: "Normal", at_risk: "At risk", curtailing: "Curtailing", offline: "Offline" };
let hours = Number(new URLSearchParams(window.location.search).get("hours") || head.dataset.hours);

const initial = figureFrom("load-figure");
window.Plotly.newPlot(chart, initial.data, initial.layout, PLOT_CONFIG);

async function reloadChart() {
  const figure = await fetchJson(`${head.dataset.chartUrl}?hours=${hours}`);
  window.Plotly.react(chart, figure.data, figure.layout, PLOT_CONFIG);
}

document.querySelectorAll(".ranges a").forEach((link) => {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    hours = Number(link.dataset.hours);
    document.querySelectorAll(".ranges a").forEach((a) => a.classList.toggle("active", a === link));
    window.history.replaceState(null, "", `?hours=${hours}`);
    reloadChart();
  });
});

function setStatus(status) {
  const badge = document.getElementById("feeder-status");
  if (!status || !STATUS_TEXT[status]) return;
  badge.className = `badge status-${status}`;
  badge.querySelector(".status").textContent = STATUS_TEXT[status];
}

// Alerts and events change what is shaded and which controls make sense: reload the
// page, unless the operator is in the middle of a control form (an alert is exactly when
// they are typing a reason); then say so and let them reload when done.
const reloadSoon = debounce(() => {
  const busy = document.querySelector("#controls details[open]");
  if (!busy) {
    window.location.reload();
    return;
  }
  const note = document.getElementById("page-outdated");
  if (note) note.hidden = false;
}, 1500);

// The open event's chargers, as the server renders them: levels move with the load.
const refreshEventChargers = debounce(async () => {
  const list = document.getElementById("event-chargers");
  if (!list) return;
  try {
    const response = await fetch(list.dataset.url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${list.dataset.url}: ${response.status}`);
    list.outerHTML = await response.text();
  } catch (error) {
    console.warn(error);
  }
}, 500);

connectLive(
  `/ws/feeders/${feederId}/`,
  {
    "feeder.reading": (p) => {
      const amps = p.amps || [];
      const x = [];
      const y = [];
      const indices = [];
      for (let i = 0; i < phases; i += 1) {
        if (amps[i] === null || amps[i] === undefined) continue;
        indices.push(i);
        x.push([p.measured_at_london]);
        y.push([amps[i]]);
      }
      // Keep at most a day of 10 s readings per trace in the browser.
      if (indices.length) window.Plotly.extendTraces(chart, { x, y }, indices, 9000);
      // The server set the x range to end 10 minutes ahead; past that, let it rebuild the
      // figure (range, forecast, events) rather than do wall-clock arithmetic here.
      const range = chart.layout.xaxis.range;
      if (range && p.measured_at_london && p.measured_at_london > String(range[1])) reloadChart();
      if (p.load_percent !== undefined && p.load_percent !== null) {
        document.getElementById("feeder-load").textContent = Number(p.load_percent).toFixed(1);
      }
      if (p.measured_at_label) document.getElementById("feeder-last-reading").textContent = p.measured_at_label;
      setStatus(p.status);
    },
    "feeder.status": (p) => setStatus(p.status),
    "protection.clock": () => refreshProtection(),
    "feeder.alert": () => reloadSoon(),
    "event.updated": (p) => {
      if (p.status === "ended" || !document.getElementById("open-event")) reloadSoon();
      else refreshEventChargers();
    },
    "action.updated": () => refreshEventChargers(),
    "control.feeder_configured": (p) => {
      document.getElementById("feeder-automatic").textContent = p.automatic_curtailment ? "on" : "off";
      const log = document.getElementById("control-log");
      if (log) log.textContent = `${p.actor} turned automatic curtailment ${p.automatic_curtailment ? "on" : "off"}: ${p.reason}`;
    },
    "control.alert_acknowledged": (p) => {
      const ack = document.getElementById("alert-ack");
      if (ack) ack.textContent = `Acknowledged by ${p.actor}`;
      const form = document.getElementById("acknowledge-form");
      if (form) form.remove();
    },
    "control.event_requested": (p) => {
      const log = document.getElementById("control-log");
      if (log) log.textContent = `${p.actor} started event ${p.event_id}: ${p.reason}`;
      reloadSoon();
    },
    "control.event_cancelled": (p) => {
      const log = document.getElementById("control-log");
      if (log) log.textContent = `${p.actor} cancelled event ${p.event_id}: ${p.reason}`;
      reloadSoon();
    },
  },
  {
    onReconnect: () => {
      reloadChart();
      refreshProtection();
      refreshEventChargers();
    },
  },
);

// Controls: a last confirmation naming what will happen, on top of the server-checked box.
document.querySelectorAll("#controls form").forEach((form) => {
  form.addEventListener("submit", (event) => {
    const summary = form.closest("details").querySelector("summary").textContent.trim();
    if (!window.confirm(`${summary} on this feeder?\n\nThis is recorded in the audit trail with your reason.`)) {
      event.preventDefault();
    }
  });
});
