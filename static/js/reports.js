// Reports page: draw the server-built figures, show only the period inputs of the chosen
// kind, and poll a queued export's progress until its file can be downloaded.
import { figureFrom, PLOT_CONFIG } from "./live.js";

for (const name of ["durations", "months", "worst"]) {
  const figure = figureFrom(`figure-${name}`);
  const target = document.getElementById(`chart-${name}`);
  if (figure && target && window.Plotly) window.Plotly.newPlot(target, figure.data, figure.layout, PLOT_CONFIG);
}

const kind = document.getElementById("period-kind");
function showKindInputs() {
  for (const label of document.querySelectorAll("#period-form [data-kind]")) {
    const active = label.dataset.kind === kind.value;
    label.hidden = !active;
    label.style.display = active ? "" : "none"; // .filters label sets display, which beats [hidden]
    for (const input of label.querySelectorAll("input")) input.disabled = !active;
  }
}
if (kind) {
  kind.addEventListener("change", showKindInputs);
  showKindInputs();
}

const status = document.getElementById("export-status");
if (status) {
  const bar = document.getElementById("export-progress");
  const stage = document.getElementById("export-stage");
  const link = document.getElementById("export-link");
  let delay = 1000;
  const startedPolling = Date.now();
  async function poll() {
    let job;
    try {
      const response = await fetch(status.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      job = await response.json();
      if (!response.ok) {
        stage.textContent = job.error || `error ${response.status}`;
        return;
      }
    } catch (error) {
      stage.textContent = "cannot reach the server; retrying…";
      setTimeout(poll, Math.min((delay *= 2), 15000));
      return;
    }
    bar.value = job.progress;
    stage.textContent = job.state === "failed" ? `failed: ${job.error}` : `${Math.round(job.progress * 100)}% ${job.stage}`;
    // A job nobody picks up means no Celery worker serves report exports: say so.
    if (job.state === "queued" && Date.now() - startedPolling > 30000) {
      stage.textContent = "still queued after 30 s: is a Celery worker running (with reports.tasks)?";
    }
    if (job.state === "done") {
      link.href = job.download_url;
      link.textContent = `Download ${job.filename}`;
      link.hidden = false;
    } else if (job.state !== "failed") {
      setTimeout(poll, delay);
    }
  }
  poll();
}
