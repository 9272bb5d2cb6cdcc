// Station page behaviour. Our own code only, loaded as a file (no inline script: a CSP is coming).
//
// - A scan form's input ([data-scan-input] inside [data-scan-form]) keeps the focus with its
//   text selected, so the next keyboard-wedge scan replaces the last one.
// - Keys typed while nothing editable has the focus (the worker tapped the card) go to the
//   scan input, so a scan is never lost.
// - When the server fails (5xx), cannot be reached or is too slow, the worker sees a red
//   banner where the answer would have gone, instead of nothing at all.
(function () {
  "use strict";

  function scanInput(root) {
    return (root || document).querySelector("[data-scan-input]");
  }

  function readyForNextScan(input) {
    if (!input) return;
    input.focus({ preventScroll: true });
    input.select();
  }

  function isEditable(el) {
    return !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  document.addEventListener("DOMContentLoaded", function () {
    readyForNextScan(scanInput());
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest("[data-scan-form]");
    if (form) readyForNextScan(scanInput(form));
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
    if (isEditable(document.activeElement)) return;
    var input = scanInput();
    if (!input) return;
    // Focusing during keydown makes this very keystroke land in the input.
    input.value = "";
    input.focus({ preventScroll: true });
  }, true);

  function showFailure(event, message) {
    var target = event.detail.target;  // where the answer would have been swapped
    if (!target || target === document.body) return;
    var banner = document.createElement("div");
    banner.className = "banner banner--error";
    banner.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.className = "banner__message";
    text.textContent = message;
    banner.appendChild(text);
    target.replaceChildren(banner);
  }

  document.addEventListener("htmx:responseError", function (event) {
    showFailure(event, "The station server had a problem (HTTP " + event.detail.xhr.status +
      "). Scan again; if it keeps happening, tell a supervisor.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    showFailure(event, "No connection to the station server. Check the network, then scan again.");
  });
  document.addEventListener("htmx:timeout", function (event) {
    showFailure(event, "The station server did not answer in time. Scan again.");
  });
})();
