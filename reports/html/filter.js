"use strict";
// Show or hide findings by severity. The report reads the same without this script.
document.addEventListener("DOMContentLoaded", function () {
  var filters = document.getElementById("filters");
  if (!filters) {
    return;
  }
  filters.hidden = false;
  filters.querySelectorAll("input[data-severity]").forEach(function (box) {
    box.addEventListener("change", function () {
      var selector = ".finding[data-severity='" + box.dataset.severity + "']";
      document.querySelectorAll(selector).forEach(function (finding) {
        finding.hidden = !box.checked;
      });
    });
  });
});
