// Event page: re-render the timeline and tables whenever the event, one of its actions or
// one of its service requests changes (fetching the server-rendered rows, so page load and
// live updates show exactly the same thing).
import { connectLive, debounce, fetchJson, figureFrom, PLOT_CONFIG } from "./live.js";

const head = document.getElementById("event-head");
const chart = document.getElementById("event-chart");
const initial = figureFrom("event-figure");
window.Plotly.newPlot(chart, initial.data, initial.layout, PLOT_CONFIG);

// Replace a region's HTML, keeping the disclosures the operator opened (the raw decision
// record) open across the refresh.
function replaceKeepingOpen(region, html) {
  const open = new Set([...region.querySelectorAll("details[id][open]")].map((node) => node.id));
  region.innerHTML = html;
  open.forEach((id) => {
    const details = document.getElementById(id);
    if (details) details.open = true;
  });
}

const refresh = debounce(async () => {
  try {
    const live = await fetchJson(head.dataset.liveUrl);
    window.Plotly.react(chart, live.figure.data, live.figure.layout, PLOT_CONFIG);
    replaceKeepingOpen(document.getElementById("event-tables"), live.tables_html);
    replaceKeepingOpen(document.getElementById("event-summary"), live.summary_html);
    // Only an active event can be cancelled: the control goes once it is releasing or over.
    const controls = document.getElementById("event-controls");
    if (controls && live.status !== "active") controls.hidden = true;
  } catch (error) {
    console.warn(error);
  }
}, 300);

connectLive(
  `/ws/events/${head.dataset.eventId}/`,
  {
    "event.updated": refresh,
    "action.updated": refresh,
    "service_request.updated": refresh,
    "notification.updated": refresh,
    "protection.clock": refresh,
  },
  { onReconnect: refresh },
);
// Actions also end by their duration on the device; a slow refresh catches quiet changes.
setInterval(refresh, 20000);

// Cancel: a last confirmation naming what will happen, on top of the server-checked box.
const cancelForm = document.getElementById("event-cancel-form");
if (cancelForm) {
  cancelForm.addEventListener("submit", (event) => {
    const what = cancelForm.querySelector("button[type=submit]").textContent.trim();
    if (!window.confirm(`${what}?\n\nEvery charger of the event is reset (7.8). This is recorded in the audit trail with your reason.`)) {
      event.preventDefault();
    }
  });
}
