// Cycle form: refresh the pre-cycle warnings (CLINICAL.md §7) when the date,
// course or activity changes, from the server's own eligibility check.
(function () {
  "use strict";
  var panel = document.getElementById("eligibility");
  var form = panel && panel.closest("form");
  if (!form) return;
  var timer = null;

  function refresh() {
    var date = form.elements["date"].value;
    var gbq = form.elements["administered_gbq"].value;
    if (!date) return;
    // The URL may already name the cycle being corrected (?cycle=…).
    var url = new URL(panel.dataset.checkUrl, window.location.href);
    url.searchParams.set("date", date);
    url.searchParams.set("gbq", gbq);
    fetch(url.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) panel.innerHTML = html; })
      .catch(function () { /* keep the warnings shown; the server checks again on save */ });
  }

  ["date", "administered_gbq", "course"].forEach(function (name) {
    var field = form.elements[name];
    if (!field) return;
    field.addEventListener("change", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 150);
    });
  });
})();
