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

// Keyboard-wedge capture, for pages that ask for it with <body data-scan-url="...">.
//
// A wedge scanner is a keyboard that types very fast: its keys come a few ms apart, a person's
// 50-200 ms apart. Keys are watched wherever the focus is (capture phase, before anyone else):
// - Keys closer than data-scan-gap-ms (35 ms) in a row start a burst. Until the burst has
//   data-scan-min-length (4) keys they go where they would anyway (a person typing into a field
//   is never held up); from then on they are kept out of the page, and a burst confirmed once
//   may stutter up to 100 ms between keys without being split.
// - A burst ended by Enter or Tab is a scan: the Enter/Tab is swallowed (no form submit, no
//   button press, no focus move) and the first keys that landed in a text field are taken out
//   of it again. A burst that just stops is typing after all: its kept keys go back into the field.
// - "|" (data-scan-gs, the GS substitute a wedge is set to type) and Ctrl+] become GS (0x1D).
// - Each scan gets a client id (crypto.getRandomValues: randomUUID needs https) and joins one
//   send queue: one POST at a time, in order; a network error or a server failure retries the
//   same scan with the same id (the server answers a repeat with the first answer), so at 10
//   scans a second nothing is lost, split, doubled or reordered. The queue survives a reload
//   (localStorage).
// - Results are shown in scan-log order; scans from the station's serial scanner come from
//   polling data-scan-feed and are merged in by their log id (each shown once).
// - A short high beep for OK, a low double buzz for a refusal (WebAudio, no files).
(function () {
  "use strict";

  var body = document.body;
  if (!body || !body.dataset.scanUrl) return;

  var GS = "\x1d";
  var data = body.dataset;
  var cfg = {
    url: data.scanUrl,
    station: data.scanStation || "",
    feed: data.scanFeed || "",
    pollMs: num(data.scanPollMs, 150),
    gapMs: num(data.scanGapMs, 35),
    burstGapMs: num(data.scanBurstGapMs, 100),
    minLength: num(data.scanMinLength, 4),
    gs: data.scanGs === undefined ? "|" : data.scanGs
  };
  var cursor = num(data.scanCursor, 0);
  var current = document.getElementById("scan-current");
  var history = document.getElementById("scan-history");
  var queueNote = document.getElementById("scan-queue");
  var HISTORY_MAX = 30;

  function num(value, fallback) {
    var n = parseFloat(value);
    return isNaN(n) ? fallback : n;
  }

  // --- telling a scanner from a person ---------------------------------------------------------

  var MODIFIER = { Shift: 1, Control: 1, Alt: 1, AltGraph: 1, Meta: 1, OS: 1, CapsLock: 1, NumLock: 1,
                   ScrollLock: 1, Fn: 1, FnLock: 1, Hyper: 1, Super: 1, Symbol: 1, SymbolLock: 1 };
  var burst = null;
  var idleTimer = null;

  function isTextField(el) {
    if (!el) return false;
    if (el.tagName === "TEXTAREA") return true;
    return el.tagName === "INPUT" && /^(text|search|url|tel|password|email|number)$/i.test(el.type || "text");
  }

  function snapshot(el) {
    var snap = { el: el, value: null, start: null, end: null };
    if (isTextField(el)) {
      snap.value = el.value;
      try { snap.start = el.selectionStart; snap.end = el.selectionEnd; } catch (e) { /* email, number */ }
    }
    return snap;
  }

  // The character a key stands for; IGNORE for a lone modifier; null for any other key.
  var IGNORE = {};
  function keyChar(event) {
    var key = event.key;
    if (!key || MODIFIER[key] || key === "Unidentified" || key === "Dead") return IGNORE;
    if (event.ctrlKey && !event.altKey && !event.metaKey &&
        (event.code === "BracketRight" || key === "]" || key === GS)) return GS;
    if (Array.from(key).length !== 1) return null;  // Backspace, arrows, F-keys, Escape, ...
    var altGraph = event.getModifierState && event.getModifierState("AltGraph");
    if (event.metaKey || ((event.ctrlKey || event.altKey) && !altGraph && !(event.ctrlKey && event.altKey))) {
      return null;  // a shortcut (Ctrl+C), not typing; AltGr (Ctrl+Alt) characters are typing
    }
    return key;
  }

  function onKeyDown(event) {
    if (event.isComposing) return;
    var ch = keyChar(event);
    if (ch === IGNORE) return;
    var t = event.timeStamp;  // when the key happened, even if the page was busy when it arrives
    var within = burst && t - burst.last <= (burst.confirmed ? cfg.burstGapMs : cfg.gapMs);

    if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.altKey && !event.metaKey) {
      if (within && burst.confirmed) {
        event.preventDefault();
        event.stopImmediatePropagation();
        finishScan();
      } else {
        endBurst();  // a person pressed Enter or Tab: let it do what it does
      }
      return;
    }
    if (ch === null || event.repeat) {  // a held key repeats ~30 ms apart: a person, not a scanner
      endBurst();
      return;
    }
    if (burst && !within) endBurst();
    if (!burst) burst = { chars: [], kept: [], last: t, confirmed: false, snap: snapshot(document.activeElement) };
    burst.chars.push(ch);
    burst.last = t;
    if (!burst.confirmed && burst.chars.length >= cfg.minLength) burst.confirmed = true;
    if (burst.confirmed || ch === GS) {
      event.preventDefault();  // keep it out of the page; it goes back if this was typing after all
      event.stopImmediatePropagation();
      burst.kept.push(ch);
    }
    clearTimeout(idleTimer);
    // Only a burst without Enter/Tab waits for this; generous, so a busy page never splits a scan.
    idleTimer = setTimeout(function () { endBurst(); }, 1000);
  }

  function endBurst() {
    var b = burst;
    burst = null;
    clearTimeout(idleTimer);
    if (!b || !b.kept.length) return;
    var el = b.snap.el;
    var text = b.kept.filter(function (c) { return c !== GS; }).join("");
    if (!text || !isTextField(el) || document.activeElement !== el) return;
    try {
      el.setRangeText(text, el.selectionStart, el.selectionEnd, "end");
    } catch (e) {
      el.value += text;
    }
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function finishScan() {
    var b = burst;
    burst = null;
    clearTimeout(idleTimer);
    var snap = b.snap;
    if (snap.value !== null && snap.el.value !== snap.value) {  // its first keys landed in a field
      snap.el.value = snap.value;
      if (snap.start !== null) {
        try { snap.el.setSelectionRange(snap.start, snap.end); } catch (e) { /* not selectable */ }
      }
      snap.el.dispatchEvent(new Event("input", { bubbles: true }));
    }
    enqueue(b.chars.join(""), "wedge");
  }

  window.addEventListener("keydown", onKeyDown, true);

  // Typed by hand into the page's own field ("Can't scan it?"): the same queue, source "manual".
  var manual = document.querySelector("[data-scan-manual]");
  if (manual) {
    manual.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = manual.elements.code;
      if (input.value.trim()) enqueue(input.value, "manual");
      input.value = "";
      input.focus({ preventScroll: true });
    });
  }

  // --- the send queue -------------------------------------------------------------------------

  var STORE = "station.scanQueue:" + cfg.station;
  var queue = load();
  var sending = false;
  var SERVER_RETRIES = 4;

  function clientId() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;  // an RFC 4122 version-4 UUID
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "[]") || []; } catch (e) { return []; }
  }

  function save() {
    try { window.localStorage.setItem(STORE, JSON.stringify(queue)); } catch (e) { /* private mode: memory only */ }
  }

  function enqueue(code, source) {
    if (cfg.gs) code = code.split(cfg.gs).join(GS);
    queue.push({ code: code, client_id: clientId(), source: source, station: cfg.station, tries: 0 });
    save();
    pump();
  }

  function pump() {
    showQueue();
    if (sending || !queue.length) return;
    sending = true;
    var item = queue[0];
    var form = new URLSearchParams();
    form.set("code", item.code);
    form.set("client_id", item.client_id);
    form.set("station", item.station);
    form.set("source", item.source);
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, 10000);
    fetch(cfg.url, {
      method: "POST", body: form, signal: controller.signal, cache: "no-store", credentials: "same-origin",
      headers: { "HX-Request": "true", "Accept": "text/html" }  // the result partial, as htmx would get it
    }).then(function (response) {
      if (response.status >= 500 && ++item.tries <= SERVER_RETRIES) throw new Error("HTTP " + response.status);
      return response.text().then(function (html) { return { status: response.status, html: html }; });
    }).then(function (answer) {
      clearTimeout(timer);
      queue.shift();
      save();
      sending = false;
      if (answer.status >= 500) {
        failure("The station server had a problem with scan " + item.code.slice(0, 40) +
                " (HTTP " + answer.status + "). Scan it again; if it keeps happening, tell a supervisor.");
      } else {
        renderAll(answer.html, true);
      }
      pump();
    }, function () {
      clearTimeout(timer);
      item.offline = true;  // no answer: send it again, with the same client id
      sending = false;
      showQueue();
      setTimeout(pump, Math.min(250 * Math.pow(2, Math.min(item.tries++, 4)), 4000));
    });
  }

  function showQueue() {
    if (!queueNote) return;
    var waiting = queue.length - (sending && !queue[0].offline ? 1 : 0);
    var offline = queue.length && queue[0].offline;
    if (!offline && waiting <= 1) {
      queueNote.hidden = true;
      return;
    }
    queueNote.hidden = false;
    queueNote.textContent = offline
      ? "No connection to the station server — " + queue.length + (queue.length === 1 ? " scan" : " scans") +
        " kept and sent again automatically. Keep scanning."
      : waiting + " scans waiting to be sent…";
  }

  // --- showing results, in scan-log order -----------------------------------------------------

  var seen = {};
  Array.prototype.forEach.call(document.querySelectorAll("[data-scan-id]"), function (el) {
    seen[el.dataset.scanId] = true;
  });

  function idOf(el) { return parseInt(el.dataset.scanId || "0", 10) || 0; }

  function renderAll(html, fresh) {
    var template = document.createElement("template");
    template.innerHTML = html;
    Array.prototype.forEach.call(template.content.querySelectorAll(".scan-result"), function (el) {
      place(el, fresh);
    });
  }

  function place(el, fresh) {
    var id = idOf(el);
    if (id && seen[id]) return;  // a retry's answer, or a wedge scan the feed brought first
    if (id) seen[id] = true;
    var ignored = el.dataset.ignored === "1";
    var shown = current.querySelector(".scan-result");
    if (!ignored && (!id || !shown || id > idOf(shown))) {
      if (shown && idOf(shown)) toHistory(shown);
      el.classList.remove("scan-result--past");
      el.classList.add("scan-result--fresh");
      current.replaceChildren(el);
      if (fresh) sound(el.dataset.ok === "1");
    } else {
      toHistory(el);
    }
  }

  function toHistory(el) {
    el.classList.add("scan-result--past");
    el.classList.remove("scan-result--fresh");
    var details = el.querySelector(".scan-result__details");
    if (details) details.remove();  // one lot card on the page at a time
    var id = idOf(el);
    var before = null;
    for (var child = history.firstElementChild; child; child = child.nextElementSibling) {
      if (idOf(child) < id) { before = child; break; }
    }
    history.insertBefore(el, before);
    while (history.children.length > HISTORY_MAX) history.lastElementChild.remove();
  }

  function failure(message) {
    var template = document.createElement("template");
    template.innerHTML = '<section class="scan-result scan-result--bad" data-ok="0" data-ignored="0">' +
      '<div class="banner banner--error banner--scan" role="alert"><div class="banner__body">' +
      '<p class="banner__message"></p></div></div></section>';
    var el = template.content.firstElementChild;
    el.querySelector(".banner__message").textContent = message;
    place(el, true);
  }

  // --- scans from the station's own scanner (serial, simulated), by polling the scan log -------

  function poll() {
    if (!cfg.feed) return;
    if (document.hidden) { setTimeout(poll, 1000); return; }
    var url = new URL(cfg.feed, window.location.href);
    url.searchParams.set("after", String(cursor));
    fetch(url.toString(), { cache: "no-store", headers: { "HX-Request": "true" } }).then(function (response) {
      if (response.status !== 200) return null;
      var last = parseInt(response.headers.get("X-Scan-Last") || "0", 10);
      return response.text().then(function (html) {
        renderAll(html, true);
        if (last > cursor) cursor = last;
      });
    }).catch(function () { /* offline: the next poll tries again */ }).then(function () {
      setTimeout(poll, cfg.pollMs);
    });
  }

  // --- sound ----------------------------------------------------------------------------------

  var audio = null;
  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }
  // Browsers allow sound after a key press or a tap on the page; get ready at the first one.
  function unlock() {
    try { audioContext(); } catch (e) { /* no audio here */ }
    window.removeEventListener("keydown", unlock, true);
    window.removeEventListener("pointerdown", unlock, true);
  }
  window.addEventListener("keydown", unlock, true);
  window.addEventListener("pointerdown", unlock, true);

  function sound(ok) {
    body.dataset.scanSound = ok ? "ok" : "bad";  // what was played last (tests read it)
    body.dataset.scanSounds = String(num(body.dataset.scanSounds, 0) + 1);
    try {
      var ctx = audioContext();
      if (!ctx) return;
      // [frequency Hz, start s, length s]: one bright chirp, or two low buzzes.
      var tones = ok ? [[1760, 0, 0.12]] : [[220, 0, 0.2], [165, 0.26, 0.32]];
      var now = ctx.currentTime;
      tones.forEach(function (tone) {
        var osc = ctx.createOscillator();
        var gain = ctx.createGain();
        var start = now + tone[1];
        var end = start + tone[2];
        osc.type = ok ? "sine" : "square";
        osc.frequency.setValueAtTime(tone[0], start);
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(ok ? 0.5 : 0.3, start + 0.01);
        gain.gain.setValueAtTime(ok ? 0.5 : 0.3, end - 0.03);
        gain.gain.exponentialRampToValueAtTime(0.0001, end);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(start);
        osc.stop(end + 0.02);
      });
    } catch (e) { /* sound is a bonus; the banner is the answer */ }
  }

  pump();  // scans kept from before a reload
  setTimeout(poll, cfg.pollMs);
})();
