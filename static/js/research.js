/* Research pages: draw the Plotly figures, apply the filter on change, run background exports. */
(function () {
  "use strict";

  // Figures: each .plot names the json_script element holding its figure JSON.
  if (window.Plotly) {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, fig.data, fig.layout, {
        responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"],
      });
    });
  }

  // The filter lives in the URL: changing a field reloads the page with it.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("change", function (event) {
      if (event.target.matches("select:not([multiple])")) form.requestSubmit();
    });
    // Blank fields stay out of the URL, so bookmarks stay short.
    form.addEventListener("submit", function () {
      form.querySelectorAll("input, select").forEach(function (input) {
        if (!input.multiple && input.value === "") input.disabled = true;
      });
    });
  });

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // Background export: POST, then poll the JSON status until done.
  var jobForm = document.getElementById("export-job");
  if (jobForm) {
    var box = document.getElementById("job-status");
    var bar = document.getElementById("job-progress");
    var text = document.getElementById("job-text");
    var link = document.getElementById("job-download");
    var show = function (job) {
      box.hidden = false;
      bar.value = job.progress;
      text.textContent = job.status + " — " + Math.round(job.progress * 100) + "%" +
        (job.error ? ": " + job.error : "");
      if (job.download_url) { link.href = job.download_url; link.hidden = false; }
      return job;
    };
    var poll = function (url) {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); })
        .then(show).then(function (job) {
          if (job.status === "queued" || job.status === "running") {
            setTimeout(function () { poll(url); }, 700);
          }
        });
    };
    jobForm.addEventListener("submit", function (event) {
      event.preventDefault();
      link.hidden = true;
      fetch(jobForm.action, { method: "POST", body: new FormData(jobForm), credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (body) { return [r.status, body]; }); })
        .then(function (pair) {
          if (pair[0] !== 202) { box.hidden = false; text.textContent = JSON.stringify(pair[1]); return; }
          show(pair[1]);
          poll(pair[1].status_url);
        });
    });
  }
})();
