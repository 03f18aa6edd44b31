// Draws the report's charts with vega-embed and makes the failing-targets table searchable and sortable.
// When every chart has settled, <html data-charts="drawn"> (or "failed", with the reasons in #chart-status).
(function () {
  "use strict";
  var status = document.getElementById("chart-status");
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  var ids = Object.keys(specs);
  var drawing = ids.map(function (id) {
    return vegaEmbed("#" + id, specs[id], { renderer: "svg", actions: false })
      .then(function () { return null; }, function (error) { return id + ": " + error; });
  });
  Promise.all(drawing).then(function (failures) {
    failures = failures.filter(Boolean);
    document.documentElement.dataset.charts = failures.length ? "failed" : "drawn";
    status.textContent = failures.length ? "Charts that could not be drawn: " + failures.join("; ")
                                         : ids.length + " charts drawn.";
    if (failures.length) status.className = "failed";
  });

  var table = document.getElementById("failing");
  if (!table) return;
  var body = table.tBodies[0];
  var search = document.getElementById("failing-search");
  var shown = document.getElementById("failing-shown");
  search.addEventListener("input", function () {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var text = row.textContent.toLowerCase();
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      row.hidden = !match;
      if (match) count += 1;
    });
    shown.textContent = count;
  });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
    header.addEventListener("click", function () {
      var ascending = header.getAttribute("aria-sort") !== "ascending";
      var numeric = header.classList.contains("num");
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.sort || a.cells[column].textContent;
        var y = b.cells[column].dataset.sort || b.cells[column].textContent;
        var order = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
})();
