// The trace page: a picture wider than the screen opens scrolled to the traced lot. Backward, that lot
// is the right-most box (the suppliers are on the left), so the box starts scrolled to its end.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".trace-graph__scroll[data-scroll-to='end']"),
      function (box) { box.scrollLeft = box.scrollWidth; });
  });
})();
