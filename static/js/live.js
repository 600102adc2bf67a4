// Live updates over a WebSocket: reconnect with exponential backoff (plus jitter, so a
// restarted server is not hit by every screen at once) and show #stale-banner while the
// page may be out of date. On reconnect the page's onReconnect refetches what it missed.
// #last-updated says when the page last heard from the server, in normal running too, so
// a quiet evening and a frozen page do not look the same.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

const LONDON_TIME = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZoneName: "short",
});

export function londonTime(date) {
  return LONDON_TIME.format(date);
}

let lastHeard = null;

// Called on every message and by pages after a refetch: the server answered just now.
export function markUpdated() {
  lastHeard = new Date();
  const indicator = document.getElementById("last-updated");
  if (!indicator) return;
  indicator.querySelector("time").textContent = londonTime(lastHeard);
  indicator.dataset.updatedAt = lastHeard.toISOString();
  indicator.hidden = document.body.dataset.live === "stale";
}

export function connectLive(path, handlers, { onReconnect } = {}) {
  const banner = document.getElementById("stale-banner");
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  let delay = MIN_DELAY_MS;
  let everOpened = false;
  let socket;
  let pingTimer;

  function setStale(stale) {
    if (banner) {
      banner.hidden = !stale;
      const since = banner.querySelector(".stale-since");
      if (since) since.textContent = stale && lastHeard ? ` (last update ${londonTime(lastHeard)})` : "";
    }
    document.body.classList.toggle("is-stale", stale);
    document.body.dataset.live = stale ? "stale" : "live";
    const indicator = document.getElementById("last-updated");
    if (indicator) indicator.hidden = stale || !lastHeard;
  }

  function open() {
    socket = new WebSocket(`${scheme}://${window.location.host}${path}`);
    socket.addEventListener("open", () => {
      delay = MIN_DELAY_MS;
      setStale(false);
      markUpdated();
      if (everOpened && onReconnect) onReconnect();
      everOpened = true;
      pingTimer = setInterval(() => socket.readyState === 1 && socket.send('{"type":"ping"}'), 25000);
    });
    socket.addEventListener("message", (frame) => {
      let message;
      try {
        message = JSON.parse(frame.data);
      } catch {
        return;
      }
      markUpdated();
      const handler = handlers[message.type];
      if (handler) handler(message.payload || {}, message);
    });
    socket.addEventListener("close", (closed) => {
      clearInterval(pingTimer);
      setStale(true);
      if (closed.code === 4401) {
        // Session gone: reloading sends the browser to the login page.
        window.location.reload();
        return;
      }
      const wait = delay * (0.75 + Math.random() * 0.5);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
      setTimeout(open, wait);
    });
  }

  open();
  return { close: () => socket && socket.close() };
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const body = await response.json();
  if (document.body.dataset.live === "live") markUpdated();
  return body;
}

export function figureFrom(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

export const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
