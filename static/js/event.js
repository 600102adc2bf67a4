// Event page: re-render the timeline and tables whenever the event, one of its actions or
// one of its service requests changes (fetching the server-rendered rows, so page load and
// live updates show exactly the same thing).
import { connectLive, debounce, fetchJson, figureFrom, PLOT_CONFIG } from "./live.js";

const head = document.getElementById("event-head");
const chart = document.getElementById("event-chart");
const initial = figureFrom("event-figure");
window.Plotly.newPlot(chart, initial.data, initial.layout, PLOT_CONFIG);

const refresh = debounce(async () => {
  try {
    const live = await fetchJson(head.dataset.liveUrl);
    window.Plotly.react(chart, live.figure.data, live.figure.layout, PLOT_CONFIG);
    document.getElementById("event-tables").innerHTML = live.tables_html;
    document.getElementById("event-summary").innerHTML = live.summary_html;
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
