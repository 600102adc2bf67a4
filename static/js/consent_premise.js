// Renders the half-hourly profile figure the server built (Europe/London wall-clock x).
const holder = document.getElementById("profile-chart");
const spec = document.getElementById("profile-figure");

function draw() {
  if (!holder || !spec || !window.Plotly) return;
  const figure = JSON.parse(spec.textContent);
  if (!figure.data.length) {
    holder.textContent = "No half-hourly data for this period.";
    holder.style.minHeight = "0";
    return;
  }
  window.Plotly.newPlot(holder, figure.data, figure.layout, { responsive: true, displaylogo: false });
}

if (window.Plotly) draw();
else window.addEventListener("load", draw);
