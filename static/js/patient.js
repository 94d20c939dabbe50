// Patient page: draws the lab charts with our own plotly.js and, while the
// patient's results are recomputing, polls the status endpoint and reloads
// the page once they are current (so new grades and responses appear).
(function () {
  "use strict";

  function drawCharts() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, fig.data, fig.layout, {
        displaylogo: false,
        responsive: true,
        modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
      });
    });
  }

  function pollWhileStale() {
    var box = document.getElementById("recompute");
    if (!box || box.dataset.stale !== "true") return;
    var delay = 1000;
    function tick() {
      fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (status) {
          if (status && status.stale === false) {
            box.textContent = "Results updated — reloading…";
            window.location.reload();
            return;
          }
          delay = Math.min(delay * 1.5, 10000);
          window.setTimeout(tick, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, 30000);
          window.setTimeout(tick, delay);
        });
    }
    window.setTimeout(tick, delay);
  }

  drawCharts();
  pollWhileStale();
})();
