// Choosing a first PIN (templates/signin_pin.html, form[data-first-pin]): the form has two PIN fields,
// and station.js's keypad types into the form's [data-keypad-input] — so that mark follows the field
// last tapped, and OK with the second field still empty moves on to it instead of sending the form.
(function () {
  "use strict";

  var form = document.querySelector("form[data-first-pin]");
  if (!form) return;
  var first = form.querySelector("#pin");
  var again = form.querySelector("#pin_again");

  function target(input) {
    [first, again].forEach(function (field) { field.removeAttribute("data-keypad-input"); });
    input.setAttribute("data-keypad-input", "");
  }

  form.addEventListener("focusin", function (event) {
    if (event.target === first || event.target === again) target(event.target);
  });
  form.addEventListener("submit", function (event) {
    if (first.value && !again.value) {
      event.preventDefault();
      target(again);
      again.focus();
    }
  });
})();
