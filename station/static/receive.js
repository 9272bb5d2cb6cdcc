// The receiving page (templates/receive.html): our own code, loaded as a file (no inline script).
//
// - Each scan's answer (station.js dispatches it as "station:scan-result" on <body>) may carry the
//   receipt it filled: elements marked data-receive-swap replace the page's element of the same id.
// - The number keypad ([data-keypad="<input id>"]) types into its input, for gloves and pages
//   without a keyboard (its separator key, for an item counted in decimals, at most once); each press
//   counts as a change (the form saves its values on change).
// - Answers to taps (Confirm, Cancel, item search) sound like scan answers: station.js does that for
//   every page's htmx answers, in one place.
(function () {
  "use strict";

  var body = document.body;
  if (!body || !("receivePage" in body.dataset)) return;

  function swapIn(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    Array.prototype.forEach.call(template.content.querySelectorAll("[data-receive-swap][id]"), function (el) {
      var old = document.getElementById(el.id);
      if (!old) return;
      old.replaceWith(el);
      if (window.htmx) window.htmx.process(el);
    });
  }

  body.addEventListener("station:scan-result", function (event) {
    if (event.detail && event.detail.fresh && event.detail.html) swapIn(event.detail.html);
  });

  // --- the keypad ---------------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    var key = event.target.closest && event.target.closest("[data-keypad] [data-key]");
    if (!key) return;
    var pad = key.closest("[data-keypad]");
    var input = document.getElementById(pad.dataset.keypad);
    if (!input) return;
    var value = input.value.replace(/[^\d.,]/g, "");
    var k = key.dataset.key;
    var room = value.length < (parseInt(input.getAttribute("maxlength"), 10) || 9);
    if (k === "clear") value = "";
    else if (k === "back") value = value.slice(0, -1);
    else if (k === "," || k === ".") { if (room && !/[.,]/.test(value)) value = (value || "0") + k; }
    else if (room) value = (value === "0" ? "" : value) + k;
    input.value = value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
    showMissing();
  });

  // "Still needed: the quantity" goes away once the quantity is typed in (the words as the page says them).
  var WORDS = { qty: "the quantity", item: "the item", supplier: "the supplier", expected: "which delivery it is" };
  function showMissing() {
    var note = document.querySelector(".receive-missing[data-missing]");
    var qty = document.getElementById("receive-qty");
    if (!note || !qty) return;
    var left = note.dataset.missing.split(" ").filter(function (m) { return m && !(m === "qty" && qty.value); });
    note.hidden = left.length === 0;
    if (left.length) note.textContent = "Still needed: " + left.map(function (m) {
      return WORDS[m] || m;
    }).join(" and ");
  }
})();
