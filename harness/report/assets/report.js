// tunegate report: filter buttons and pagination of the side-by-side tables.
// Vanilla JS, no network, no eval; rows are server-rendered and HTML-escaped.
(function () {
  "use strict";
  function setup(box) {
    var rows = Array.prototype.slice.call(box.querySelectorAll("tbody tr"));
    var size = parseInt(box.getAttribute("data-page"), 10) || 100;
    var state = { filter: "all", page: 0 };
    var info = box.querySelector(".pageinfo");
    var prev = box.querySelector(".prev");
    var next = box.querySelector(".next");
    var buttons = Array.prototype.slice.call(box.querySelectorAll("button[data-filter]"));
    function apply() {
      var match = rows.filter(function (r) {
        return state.filter === "all" || r.classList.contains(state.filter);
      });
      var pages = Math.max(1, Math.ceil(match.length / size));
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      var lo = state.page * size;
      var hi = Math.min(lo + size, match.length);
      rows.forEach(function (r) { r.hidden = true; });
      match.slice(lo, hi).forEach(function (r) { r.hidden = false; });
      info.textContent = match.length === 0 ? "no rows match" :
        "rows " + (lo + 1) + "\u2013" + hi + " of " + match.length +
        (pages > 1 ? " (page " + (state.page + 1) + " of " + pages + ")" : "");
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      buttons.forEach(function (b) {
        b.setAttribute("aria-pressed", b.getAttribute("data-filter") === state.filter ?
          "true" : "false");
      });
    }
    buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        state.filter = b.getAttribute("data-filter");
        state.page = 0;
        apply();
      });
    });
    prev.addEventListener("click", function () { state.page -= 1; apply(); });
    next.addEventListener("click", function () { state.page += 1; apply(); });
    apply();
  }
  Array.prototype.forEach.call(document.querySelectorAll(".sbs"), setup);
})();
