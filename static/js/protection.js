// The feeder page's time-to-failure panel (#protection): when the engine pushes the feeder's
// clock (protection.clock), fetch the panel as the server renders it, so page load and live
// updates show exactly the same thing.
import { debounce } from "./live.js";

export const refreshProtection = debounce(async () => {
  const panel = document.getElementById("protection");
  if (!panel) return;
  try {
    const response = await fetch(panel.dataset.url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${panel.dataset.url}: ${response.status}`);
    panel.outerHTML = await response.text();
  } catch (error) {
    console.warn(error);
  }
}, 300);
