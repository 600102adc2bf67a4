// Compliance: the rolling windows move with time and with every action that starts or
// ends, so refetch the figures whenever a feeder's status changes (events start and end)
// and on a slow timer (the windows slide even when nothing happens).
import { connectLive, debounce, fetchJson, figureFrom, PLOT_CONFIG } from "./live.js";

const root = document.getElementById("compliance-live");
const chart = document.getElementById("usage-chart");
const initial = figureFrom("usage-figure");
window.Plotly.newPlot(chart, initial.data, initial.layout, PLOT_CONFIG);

const refresh = debounce(async () => {
  try {
    const live = await fetchJson(root.dataset.liveUrl);
    window.Plotly.react(chart, live.figure.data, live.figure.layout, PLOT_CONFIG);
    const holder = document.createElement("div");
    holder.innerHTML = live.tables_html;
    const summary = holder.querySelector("#compliance-summary");
    if (summary) document.getElementById("compliance-summary").replaceWith(summary);
    const rest = holder.querySelector(".two-col");
    if (rest) document.getElementById("compliance-tables").replaceChildren(rest);
  } catch (error) {
    console.warn(error);
  }
}, 500);

connectLive(
  "/ws/feeders/",
  { "feeder.status": refresh, "event.updated": refresh },
  { onReconnect: refresh },
);
setInterval(refresh, 15000);
