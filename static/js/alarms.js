// The alarm list: the server orders and renders the rows; the page swaps them in on every
// push that can change them, keeps the operator's ticked rows and keyboard focus across
// the swap, counts the selection, and starts the new-alarm cue.
import { alarmCue } from "./alarm_cue.js";
import { connectLive, debounce, fetchJson } from "./live.js";

const list = document.getElementById("alarm-list");
const selectedCount = document.getElementById("selected-count");
const cue = alarmCue();

function checkboxes() {
  return [...list.querySelectorAll(".alarm-select")];
}

function countSelected() {
  const boxes = checkboxes();
  const ticked = boxes.filter((box) => box.checked).length;
  if (selectedCount) selectedCount.textContent = String(ticked);
  const all = document.getElementById("alarm-select-all");
  if (all) {
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
}

function markFresh() {
  list.querySelectorAll("tr.alarm-row").forEach((row) => {
    row.classList.toggle("fresh", cue.isFresh(row.dataset.alarmKey));
  });
}

// What has focus, as something that survives the rows being redrawn.
function focusAnchor() {
  const active = document.activeElement;
  if (!active || !list.contains(active)) return null;
  const row = active.closest("tr[data-alarm-key]");
  if (active.id) return `#${active.id}`;
  if (!row) return null;
  const what = active.classList.contains("alarm-select") ? ".alarm-select" : active.classList.contains("ack-one") ? ".ack-one" : "a";
  return `tr[data-alarm-key="${row.dataset.alarmKey}"] ${what}`;
}

const refresh = debounce(async () => {
  const page = new URLSearchParams(window.location.search).get("page");
  try {
    const data = await fetchJson(`${list.dataset.url}${page ? `?page=${encodeURIComponent(page)}` : ""}`);
    const ticked = new Set(checkboxes().filter((box) => box.checked).map((box) => box.value));
    const anchor = focusAnchor();
    list.innerHTML = data.list_html;
    checkboxes().forEach((box) => {
      box.checked = ticked.has(box.value);
    });
    if (anchor) {
      const target = list.querySelector(anchor);
      if (target) target.focus();
    }
    cue.observe(data.unacknowledged);
    markFresh();
    countSelected();
  } catch (error) {
    console.warn(error);
  }
}, 300);

list.addEventListener("change", (event) => {
  if (event.target.id === "alarm-select-all") {
    checkboxes().forEach((box) => {
      box.checked = event.target.checked;
    });
  }
  countSelected();
});

countSelected();

connectLive(
  "/ws/feeders/",
  {
    "feeder.alert": refresh,
    "feeder.status": refresh,
    "feeder.updated": refresh,
    "event.updated": refresh,
    "protection.clock": refresh,
  },
  { onReconnect: refresh },
);
// Time left moves on by itself, and an action may end without a push: a slow refresh.
setInterval(refresh, 15000);
