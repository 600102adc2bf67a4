// Polls the import's progress (GET, session auth) and reloads for the report when it ends.
const panel = document.getElementById("import-progress");
const bar = document.getElementById("import-bar");
const phase = document.getElementById("import-phase");
const percent = document.getElementById("import-percent");
let delay = 1000;

async function poll() {
  try {
    const reply = await fetch(panel.dataset.progressUrl, { headers: { Accept: "application/json" } });
    if (reply.ok) {
      const state = await reply.json();
      bar.value = state.percent;
      bar.textContent = `${state.percent}%`;
      percent.textContent = state.percent;
      phase.textContent = state.phase;
      if (state.report) {
        window.location.reload();
        return;
      }
      delay = 1000;
    } else {
      delay = Math.min(delay * 2, 15000);
    }
  } catch {
    delay = Math.min(delay * 2, 15000); // offline or server restarting: back off
  }
  setTimeout(poll, delay);
}

if (panel) setTimeout(poll, delay);
