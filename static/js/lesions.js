// Scan form: "Add a lesion" appends an empty row to the lesion formset.
(function () {
  "use strict";
  var button = document.getElementById("add-lesion");
  var template = document.getElementById("lesion-empty-row");
  var body = document.getElementById("lesion-rows");
  var total = document.getElementById("id_lesions-TOTAL_FORMS");
  if (!button || !template || !body || !total) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    body.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    var first = body.lastElementChild && body.lastElementChild.querySelector("input[type=text]");
    if (first) first.focus();
  });
})();
