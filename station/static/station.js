// Sounds, on every page: a short high chirp for OK, a low double buzz for a refusal (WebAudio, no
// files). window.stationSound(ok, cause) plays one; cause ("scan", "tap", "banner") only goes into
// the record tests read: <body data-scan-sound> (the last), data-scan-sounds (how many) and
// window.stationSoundLog ("ok:tap", "bad:scan", ...). The sound itself is always really played.
//
// Answers to taps: an htmx request started by a click or a form submit (a person's tap, or a button
// pressed by a CMD: barcode) whose swapped-in answer holds a banner sounds like a scan answer of the
// same kind: ok -> chirp, error or warning -> buzz, info -> nothing. A banner marked banner--scan (the
// answer banners) speaks for the answer; otherwise the first banner does. Polling, "load" and the
// refresh after a scan (hx-trigger "station:scan-result") are not taps and stay silent, so a scan's
// answer is heard once: station.js sounds scan answers itself, and those never arrive by htmx swap.
(function () {
  "use strict";

  var body = document.body;
  if (!body) return;
  window.stationSoundLog = window.stationSoundLog || [];

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

  function sound(ok, cause) {
    body.dataset.scanSound = ok ? "ok" : "bad";  // what was played last (tests read it)
    body.dataset.scanSounds = String((parseInt(body.dataset.scanSounds, 10) || 0) + 1);
    window.stationSoundLog.push((ok ? "ok:" : "bad:") + (cause || "scan"));
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
  window.stationSound = sound;

  // "ok", "bad" or null (info, or no banner) for the answer among `elements` (swapped-in nodes).
  function answerKind(elements) {
    var banners = [];
    elements.forEach(function (el) {
      if (!el || el.nodeType !== 1) return;
      if (el.matches(".banner")) banners.push(el);
      Array.prototype.push.apply(banners, el.querySelectorAll(".banner"));
    });
    var scanBanners = banners.filter(function (b) { return b.classList.contains("banner--scan"); });
    var banner = scanBanners[0] || banners[0];
    if (!banner) return null;
    if (banner.classList.contains("banner--ok")) return "ok";
    if (banner.classList.contains("banner--error") || banner.classList.contains("banner--warn")) return "bad";
    return null;
  }
  window.stationAnswerKind = answerKind;

  // A command barcode the page did not catch as a burst (it reached the lot lookup as typed text)
  // presses the lot card's buttons by these events (views/lots.py card): a tap's answer too.
  var COMMAND_EVENTS = { "lot-action-confirm": 1, "lot-action-cancel": 1 };

  function isTap(detail) {
    var trigger = detail && detail.requestConfig && detail.requestConfig.triggeringEvent;
    return !!trigger && (trigger.type === "click" || trigger.type === "submit" || !!COMMAND_EVENTS[trigger.type]);
  }

  // htmx swaps an answer synchronously after htmx:beforeSwap (no swap delay here), firing
  // htmx:afterSwap / htmx:oobAfterSwap on every element it put in; the sound is chosen once all of
  // them are in.
  var swapped = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!isTap(detail) || !detail.shouldSwap) return;
    if (detail.xhr && detail.xhr.getResponseHeader("HX-Redirect")) return;  // the page goes elsewhere
    var mine = [];
    swapped = mine;
    setTimeout(function () {
      if (swapped === mine) swapped = null;
      var kind = answerKind(mine.filter(function (el) { return el && el.isConnected; }));
      if (kind) sound(kind === "ok", "tap");
    }, 0);
  });
  function collect(event) { if (swapped) swapped.push(event.target); }
  document.addEventListener("htmx:afterSwap", collect);
  document.addEventListener("htmx:oobAfterSwap", collect);
  // An out-of-band swap's events may fire on the main swap's elements: its target is kept too.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (swapped && event.detail && event.detail.target) swapped.push(event.detail.target);
  });

  // A tap whose request failed gets station.js's red banner (showFailure, below) and the buzz.
  window.stationTapFailed = function (detail) {
    if (isTap(detail)) sound(false, "tap");
  };
})();

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
    // A page's own background refresh ([data-live-poll]) tries again by itself: what is shown stays.
    if (event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("[data-live-poll]")) return;
    var banner = document.createElement("div");
    banner.className = "banner banner--error";
    banner.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.className = "banner__message";
    text.textContent = message;
    banner.appendChild(text);
    target.replaceChildren(banner);
    if (window.stationTapFailed) window.stationTapFailed(event.detail);
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
// - data-scan-min-length (4) keys in a row, each within data-scan-gap-ms (35 ms) of the last,
//   are a burst. Until then keys go where they would anyway (a person typing into a field is
//   never held up); from then on they are kept out of the page. A burst may stall (a Bluetooth
//   retry, a busy machine) for up to 1 s and stay one scan, and keys held up just before it are
//   taken into it — but not a person's typing in a text field (see finishScan).
// - A burst ended by Enter or Tab is a scan: the Enter/Tab is swallowed (no form submit, no
//   button press, no focus move) and its keys that landed in a text field are taken out again.
//   A burst that just stops is typing after all: its kept keys go back into the field.
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
  function sound(ok) { window.stationSound(ok, "scan"); }  // defined above, on every page

  var GS = "\x1d";
  var data = body.dataset;
  var cfg = {
    url: data.scanUrl,
    station: data.scanStation || "",
    feed: data.scanFeed || "",
    pollMs: num(data.scanPollMs, 150),
    gapMs: num(data.scanGapMs, 35),         // keys closer than this come from a scanner
    minLength: num(data.scanMinLength, 4),  // this many fast keys in a row make a burst
    stallMs: num(data.scanStallMs, 250),    // a lone key this long before a burst is its first
    joinMs: num(data.scanJoinMs, 1000),     // a burst, or fast keys before one, may stall this long
    endGapMs: num(data.scanEndGapMs, 1000), // a burst's Enter/Tab may come this late
    gs: data.scanGs === undefined ? "|" : data.scanGs
  };
  var cursor = num(data.scanCursor, 0);
  var current = document.getElementById("scan-current");
  var scanTarget = data.scanTarget ? document.getElementById(data.scanTarget) : null;
  var earlier = document.getElementById("scan-history");
  var queueNote = queueNoteOnTop(document.getElementById("scan-queue")) || makeQueueNote();
  var HISTORY_MAX = 30;

  // Every page that takes scans says plainly when they are kept for lack of a connection; a page
  // without its own note (partials/scan_manual.html) gets one at the top of <main>.
  function makeQueueNote() {
    var main = document.getElementById("main");
    if (!main) return null;
    var note = document.createElement("p");
    note.className = "scanbar__queue";
    note.id = "scan-queue";
    note.setAttribute("role", "status");
    note.hidden = true;
    main.insertBefore(note, main.firstChild);
    return note;
  }

  // A page's own note inside a folded part ("Can't scan it?" <details>) would not be seen: it goes to
  // the top of <main> too.
  function queueNoteOnTop(note) {
    var main = document.getElementById("main");
    if (note && main && note.closest("details")) main.insertBefore(note, main.firstChild);
    return note;
  }

  function num(value, fallback) {
    var n = parseFloat(value);
    return isNaN(n) ? fallback : n;
  }

  // --- telling a scanner from a person ---------------------------------------------------------

  var MODIFIER = { Shift: 1, Control: 1, Alt: 1, AltGraph: 1, Meta: 1, OS: 1, CapsLock: 1, NumLock: 1,
                   ScrollLock: 1, Fn: 1, FnLock: 1, Hyper: 1, Super: 1, Symbol: 1, SymbolLock: 1 };
  var IGNORE = {};
  var keys = [];        // character keys since the last pause: {ch, t, gap, snap}
  var runStart = 0;     // where in `keys` the current run of fast keys starts
  var confirmed = false;  // the current run is long enough to be a scanner
  var kept = [];        // keys of a confirmed run, held back from the page
  var waited = 0;       // see lagOf
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
  function keyChar(event) {
    var key = event.key;
    if (!key || MODIFIER[key] || key === "Unidentified" || key === "Dead") return IGNORE;
    if (event.ctrlKey && !event.altKey && !event.metaKey &&
        (event.code === "BracketRight" || key === "]" || key === GS)) return GS;
    if (Array.from(key).length !== 1) return null;  // Backspace, arrows, F-keys, Escape, Enter, ...
    var altGraph = event.getModifierState && event.getModifierState("AltGraph");
    if (event.metaKey || ((event.ctrlKey || event.altKey) && !altGraph && !(event.ctrlKey && event.altKey))) {
      return null;  // a shortcut (Ctrl+C), not typing; AltGr (Ctrl+Alt) characters are typing
    }
    return key;
  }

  // How long a key waited for the page. A driver that sends the next key only once the page
  // has taken the last one (DevTools, remote desktops) is held up by a busy page; that wait is
  // not a gap between keys. (A real scanner's keys carry the time they were typed; a busy page
  // only makes their measured gaps smaller.)
  function lagOf(event) {
    var lag = performance.now() - event.timeStamp;
    return lag > 0 ? lag : 0;
  }
  var lastEventAt = 0;  // performance.now() when the page last handled a key, down or up
  window.addEventListener("keyup", function (event) {
    waited += lagOf(event);
    lastEventAt = performance.now();
  }, true);

  function onKeyDown(event) {
    if (event.isComposing) return;
    lastEventAt = performance.now();
    var lag = lagOf(event);
    var ch = keyChar(event);
    if (ch === IGNORE) { waited += lag; return; }
    var t = event.timeStamp;  // when the key was typed, however late the page sees it
    if (givenBack) resumeIfLate(t);
    var gap = keys.length ? t - keys[keys.length - 1].t - waited : Infinity;
    waited = lag;

    if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.altKey && !event.metaKey) {
      if (confirmed && gap <= cfg.endGapMs) {
        event.preventDefault();  // no form submit, no button press, no focus move
        event.stopImmediatePropagation();
        finishScan();
      } else {
        giveBack();  // a person pressed Enter or Tab: let it do what it does
      }
      return;
    }
    if (ch === null || event.repeat) {  // a held key repeats ~30 ms apart: a person, not a scanner
      giveBack();
      return;
    }
    if (confirmed && gap > cfg.joinMs) {
      giveBack();  // the burst stopped without Enter or Tab: it was typing after all
    } else if (gap > cfg.joinMs) {
      reset();
    } else if (!confirmed && gap > cfg.gapMs) {
      runStart = keys.length;  // too slow for a scanner: a new run may start here
    }
    keys.push({ ch: ch, t: t, gap: keys.length ? gap : Infinity, snap: snapshot(document.activeElement) });
    if (!confirmed && keys.length - runStart >= cfg.minLength) confirmed = true;
    if (confirmed || ch === GS) {
      event.preventDefault();  // keep it out of the page; it goes back if this was typing after all
      event.stopImmediatePropagation();
      kept.push(ch);
    }
    clearTimeout(idleTimer);
    if (kept.length) idleTimer = setTimeout(idle, cfg.endGapMs);
  }

  // A burst that never gets its Enter or Tab is given back to the page, once no key has come for
  // endGapMs — counted from when the page last took a key, so a page that was frozen (and has
  // keys still to take) does not give up on a scan that is still arriving. Keys that went to no
  // text field have nowhere to go back to: they wait for the next key, whose stamp decides (a
  // starved machine can pass a scan's last keys on a second late, stamped as typed). Keys given
  // back to a text field are taken out again when that next key says so (resumeIfLate).
  function idle() {
    var quiet = performance.now() - lastEventAt;
    if (quiet < cfg.endGapMs) idleTimer = setTimeout(idle, cfg.endGapMs - quiet);
    else if (isTextField(keys[keys.length - 1].snap.el)) giveBack(true);
  }

  // The burst idle() gave back to a field may only have been held up on its way: a next key stamped
  // within gapMs of the burst's last one was typed in the burst's stride (a person's next key, typed
  // after the pause, is stamped after it). Then the field gets its text from before the give-back
  // (unless someone changed it since) and the burst goes on.
  var givenBack = null;  // {el, before, after, start, end, burst}: see giveBack(true)

  function resumeIfLate(t) {
    var back = givenBack;
    givenBack = null;
    var burst = back.burst;
    if (keys.length || t - burst.keys[burst.keys.length - 1].t > cfg.gapMs) return;
    if (document.activeElement !== back.el || back.el.value !== back.after) return;
    back.el.value = back.before;
    try { back.el.setSelectionRange(back.start, back.end); } catch (e) { /* not selectable */ }
    back.el.dispatchEvent(new Event("input", { bubbles: true }));
    keys = burst.keys;
    runStart = burst.runStart;
    confirmed = burst.confirmed;
    kept = burst.kept;
  }

  function reset() {
    keys = [];
    runStart = 0;
    confirmed = false;
    kept = [];
    clearTimeout(idleTimer);
  }

  // The keys held back were typing after all: put them where they would have gone. `mayResume`:
  // given back for want of a next key (idle), which may still come late (resumeIfLate).
  function giveBack(mayResume) {
    var held = kept.filter(function (c) { return c !== GS; }).join("");
    var el = keys.length ? keys[keys.length - 1].snap.el : null;
    var burst = { keys: keys, runStart: runStart, confirmed: confirmed, kept: kept };
    reset();
    if (!held || !isTextField(el) || document.activeElement !== el) return;
    var back = { el: el, before: el.value, start: null, end: null, burst: burst };
    try {
      back.start = el.selectionStart;
      back.end = el.selectionEnd;
      el.setRangeText(held, el.selectionStart, el.selectionEnd, "end");
    } catch (e) {
      el.value += held;
    }
    back.after = el.value;
    if (mayResume) givenBack = back;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function finishScan() {
    // A stalled scanner, or a machine too busy to pass keys on at once, can hold up a scan after
    // its first keys. Keys just before the run belong to it when they went nowhere (no text field
    // took them, so no one was typing them on purpose), when they came fast themselves, or when
    // a lone first key came just before — each gap up to joinMs (stallMs for the lone key). Keys
    // a person typed into a field at a person's pace stay in the field.
    var s = runStart;
    while (s > 0) {
      var gap = keys[s].gap;  // between keys[s - 1] and keys[s]
      var nowhere = !isTextField(keys[s - 1].snap.el);
      var fastBefore = keys[s - 1].gap <= cfg.gapMs;  // keys[s - 1] ends a run of fast keys
      var first = s - 1 === 0;  // keys[s - 1] came after a long pause (or a scan's Enter)
      if (gap <= cfg.gapMs || ((nowhere || fastBefore) && gap <= cfg.joinMs) || (first && gap <= cfg.stallMs)) s--;
      else break;
    }
    var code = keys.slice(s).map(function (k) { return k.ch; }).join("");
    var snap = keys[s].snap;
    // Captured when its first key was typed, not when a busy page got round to it: the queue keeps a
    // trigger bounce (two reads 50 ms apart) apart from a deliberate second scan by this time.
    var at = Math.round(performance.timeOrigin + keys[s].t);
    reset();
    if (snap.value !== null && snap.el.value !== snap.value) {  // its first keys landed in a field
      snap.el.value = snap.value;
      if (snap.start !== null) {
        try { snap.el.setSelectionRange(snap.start, snap.end); } catch (e) { /* not selectable */ }
      }
      snap.el.dispatchEvent(new Event("input", { bubbles: true }));
    }
    enqueue(code, "wedge", at);
  }

  window.addEventListener("keydown", onKeyDown, true);
  // A tap elsewhere ends whatever was being typed.
  window.addEventListener("pointerdown", function () {
    givenBack = null;
    if (keys.length) giveBack();
  }, true);

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
  // The last send failed for lack of a connection. Kept scans from before a reload start out so:
  // they were kept because the server could not be reached, and the note says so at once.
  var offline = queue.some(function (item) { return item.late; });
  var waitingForSignIn = false;  // a kept scan met "sign in first": the rest wait for the sign-in
  // A scanner's trigger bounce (the same code again within SCAN_BOUNCE_MS) is ignored by the server,
  // which times scans as they arrive. Kept scans arrive back to back, so two deliberate scans of one
  // code made further apart than this are sent at least this far apart too.
  var BOUNCE_MS = num(data.scanBounceMs, 500) + 100;
  var lastSent = null;  // {code, at: capture time, sentAt}

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

  // Each scan keeps the scan URL and the address of the page it was made on: after a reload on
  // another page it still goes where it was meant to (a pick scan never reaches the receiving page),
  // and its capture time, so that a replay keeps two deliberate scans of one code apart (below).
  // `late`: made or held up while the server could not be reached; its answer says so.
  function newItem(code, clientIdValue, source, at) {
    return { code: code, client_id: clientIdValue, source: source, station: cfg.station, tries: 0,
             url: cfg.url, page: window.location.pathname + window.location.search, at: at || Date.now(),
             late: offline };
  }

  function enqueue(code, source, at) {
    if (floorTakes(code)) return;  // a command or a badge: handled here, not by the page's scan URL
    if (cfg.gs) code = code.split(cfg.gs).join(GS);
    queue.push(newItem(code, clientId(), source, at));
    save();
    pump();
  }

  function pump() {
    showQueue();
    if (sending || !queue.length || waitingForSignIn) return;
    var item = queue[0];
    var hold = bounceWait(item);
    if (hold > 0) { sending = true; setTimeout(function () { sending = false; pump(); }, hold); return; }
    sending = true;
    var form = new URLSearchParams();
    form.set("code", item.code);
    form.set("client_id", item.client_id);
    form.set("station", item.station);
    form.set("source", item.source);
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, 10000);
    var url = item.url || cfg.url;  // kept from before this version of the page: this page's URL
    var made = item.page ? new URL(item.page, window.location.href).href : window.location.href;
    fetch(url, {
      method: "POST", body: form, signal: controller.signal, cache: "no-store", credentials: "same-origin",
      headers: { "HX-Request": "true", "Accept": "text/html", "HX-Current-URL": made }
    }).then(function (response) {
      if (response.status >= 500 && ++item.tries <= SERVER_RETRIES) throw new Error("HTTP " + response.status);
      return response.text().then(function (html) {
        return { status: response.status, html: html, redirect: response.headers.get("HX-Redirect") };
      });
    }).then(function (answer) {
      clearTimeout(timer);
      sending = false;
      offline = false;
      if (answer.status === 401 && item.late) {
        // Signed out (timed out) while the scans were kept: they are not lost. They wait in the queue
        // for the sign-in; only a page that is not the sign-in page itself goes there.
        waitingForSignIn = true;
        showQueue();
        if (answer.redirect && new URL(answer.redirect, window.location.href).pathname !== window.location.pathname) {
          window.location.assign(answer.redirect);
        }
        return;
      }
      queue.shift();
      save();
      lastSent = { code: item.code, at: item.at || 0, sentAt: Date.now() };
      if (answer.redirect) {  // signed out, signed in, or sent on: as htmx does with HX-Redirect
        window.location.assign(answer.redirect);
        return;
      }
      if (answer.status >= 500) {
        failure("The station server had a problem with scan " + item.code.slice(0, 40) +
                " (HTTP " + answer.status + "). Scan it again; if it keeps happening, tell a supervisor.");
      } else if (url !== cfg.url) {
        // Made on another page: shown as a banner only. This page's own handlers of
        // "station:scan-result" (a list to refresh, a form to fill) must not act on another page's answer.
        floorBanner(markLate(answer.html, item, true));
      } else {
        renderAll(item.late ? markLate(answer.html, item, false) : answer.html, true);
      }
      pump();
    }, function () {
      clearTimeout(timer);
      // No answer: send it again, with the same client id. Everything waiting is now late.
      offline = true;
      queue.forEach(function (waiting) { waiting.late = true; });
      save();
      sending = false;
      showQueue();
      setTimeout(pump, Math.min(250 * Math.pow(2, Math.min(item.tries++, 4)), 4000));
    });
  }

  // How long to hold `item` back so the server does not take it for a trigger bounce of the last scan.
  function bounceWait(item) {
    if (!lastSent || !item.at || item.code !== lastSent.code || item.at - lastSent.at < BOUNCE_MS) return 0;
    return Math.max(0, BOUNCE_MS - (Date.now() - lastSent.sentAt));
  }

  // The answer to a scan that waited for the connection says so, with when it was scanned, so the
  // worker can tell which of the kept scans were refused (their banners stay in the history list).
  function markLate(html, item, elsewhere) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var el = template.content.querySelector(".scan-result");
    if (!el) return html;
    el.classList.add("scan-result--late");
    el.dataset.late = "1";
    el.dataset.clientId = item.client_id;
    var note = document.createElement("p");
    note.className = "scan-result__late";
    var when = item.at ? new Date(item.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit",
                                                                     hour12: false }) : "";
    note.textContent = "Sent late" + (when ? " — scanned at " + when : "") + (elsewhere && item.page ? " on " + item.page : "");
    el.insertBefore(note, el.firstChild);
    return template.innerHTML;
  }

  // Scans queue up for a moment at 10 a second; that is normal and not shown. A scan that could
  // not be sent is: the worker must know their scans are kept, not lost.
  // Kept scans still to go out after the connection came back are counted down ("Sending — 2 scans
  // waiting") until none is left. data-count / data-state are for tests.
  function showQueue() {
    if (!queueNote) return;
    var waiting = queue.filter(function (item) { return item.late; }).length;
    var shown = waiting > 0 && (offline || waitingForSignIn || queue[0].late);
    queueNote.hidden = !shown;
    queueNote.classList.add("scan-queue");
    if (!shown) { queueNote.replaceChildren(); delete queueNote.dataset.count; return; }
    var count = queue.length;  // every scan not yet answered, the late ones and any made since
    var state = waitingForSignIn ? "signin" : (offline ? "offline" : "sending");
    var words = count + (count === 1 ? " scan" : " scans") + " waiting";
    var head = document.createElement("strong");
    head.className = "scan-queue__count";
    head.textContent = (state === "offline" ? "Offline" : state === "signin" ? "Sign in" : "Sending") + " — " + words;
    var help = document.createElement("span");
    help.className = "scan-queue__help";
    help.textContent = state === "offline" ? "They are sent by themselves when the connection is back. Keep scanning." :
      state === "signin" ? "They are sent once you sign in again." : "The connection is back.";
    queueNote.replaceChildren(head, help);
    queueNote.dataset.count = String(count);
    queueNote.dataset.state = state;
  }

  // --- showing results, in scan-log order -----------------------------------------------------

  var seen = {};
  Array.prototype.forEach.call(document.querySelectorAll("[data-scan-id]"), function (el) {
    seen[el.dataset.scanId] = true;
  });

  function idOf(el) { return parseInt(el.dataset.scanId || "0", 10) || 0; }

  // Each answer is also announced as a "station:scan-result" event on <body> (detail: the HTML),
  // so a workflow page can act on it; #scan-current / #scan-history show it when a page has them.
  function renderAll(html, fresh) {
    body.dispatchEvent(new CustomEvent("station:scan-result", { detail: { html: html, fresh: fresh } }));
    if (scanTarget) { showIn(scanTarget, html, fresh); return; }
    if (!current || !earlier) {
      // A floor banner (partials/floor_banner.html: a refusal, "sign in first") shows at the top.
      if (html.indexOf("floor-banner") !== -1) floorBanner(html);
      return;
    }
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
      if (window.htmx) window.htmx.process(el);  // an answer may hold htmx buttons (a lot card's Hold)
      if (fresh) answerSound(el);
    } else {
      toHistory(el);
    }
  }

  // <body data-scan-target="ID">: each answer replaces that element's content (the lot lookup page).
  function showIn(target, html, fresh) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var el = template.content.querySelector(".scan-result");
    var id = el ? idOf(el) : 0;
    if (id && seen[id]) return;  // a retry's answer
    if (id) seen[id] = true;
    target.replaceChildren(template.content);
    if (window.htmx) window.htmx.process(target);
    // The scan replaced what the page was showing: the typed field and the address follow it.
    // The field shows the lot found, selected, so typing or the next scan replaces it.
    var field = document.querySelector("[data-scan-input]");
    if (field && fresh) {
      field.value = (el && el.dataset.query) || "";
      if (document.activeElement === field) field.select();
    }
    if (el && el.dataset.url && fresh) window.history.replaceState(null, "", el.dataset.url);
    if (fresh && el && el.dataset.ignored !== "1") answerSound(el);
  }

  function toHistory(el) {
    el.classList.add("scan-result--past");
    el.classList.remove("scan-result--fresh");
    var details = el.querySelector(".scan-result__details");
    if (details) details.remove();  // one lot card on the page at a time
    var id = idOf(el);
    var before = null;
    for (var child = earlier.firstElementChild; child; child = child.nextElementSibling) {
      if (idOf(child) < id) { before = child; break; }
    }
    earlier.insertBefore(el, before);
    while (earlier.children.length > HISTORY_MAX) earlier.lastElementChild.remove();
  }

  function failure(message) {
    var template = document.createElement("template");
    template.innerHTML = '<section class="scan-result scan-result--bad" data-ok="0" data-ignored="0">' +
      '<div class="banner banner--error banner--scan" role="alert"><div class="banner__body">' +
      '<p class="banner__message"></p></div></div></section>';
    var el = template.content.firstElementChild;
    el.querySelector(".banner__message").textContent = message;
    if (current && earlier) place(el, true);
  }

  // --- the floor: command barcodes and badges, on every page (see station/auth/) --------
  //
  // CMD:CONFIRM|CANCEL|UNDO|NEXT|REPRINT: the cancelable event "station:command" on <body>, then a
  // click on the page's visible [data-command="confirm"] (etc.), else a red banner. OPR:<badge>:
  // POSTed to data-floor-badge-url (own badge signs out, another signs in; the answer redirects).

  // The codes come from the server (labels/codes.py, on <body> as data-code-*: the prefixes, the
  // command names, the AIM identifier pattern); a command or badge in any case, with or without an
  // AIM prefix such as ]C0. A page without them (not built on base.html) takes none here.
  function literal(text) { return String(text).replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&"); }
  var AIM = "(?:" + (data.codeAim || "(?!)") + ")?";
  var COMMAND = data.codeCommandPrefix && data.codeCommands ?
    new RegExp("^" + AIM + literal(data.codeCommandPrefix) + "(" +
               data.codeCommands.split(/\s+/).filter(Boolean).map(literal).join("|") + ")\\s*$", "i") : null;
  var BADGE = data.codeOperatorPrefix ? new RegExp("^" + AIM + literal(data.codeOperatorPrefix) + "\\S", "i") : null;
  var NOTHING = { confirm: "Nothing to confirm on this screen", cancel: "Nothing to cancel on this screen",
                  undo: "Nothing to undo on this screen", next: "Nothing to go on to on this screen",
                  reprint: "Nothing to print again on this screen" };

  function floorTakes(code) {
    var command = COMMAND && COMMAND.exec(code);
    if (command) {
      runCommand(command[1].toLowerCase());
      return true;
    }
    if (BADGE && BADGE.test(code) && data.floorBadgeUrl) {
      sendBadge(code);
      return true;
    }
    return false;
  }

  function usable(el) {
    return !el.disabled && el.getAttribute("aria-disabled") !== "true" && el.getClientRects().length > 0 &&
      !el.closest("[hidden], [inert]");
  }

  function runCommand(name) {
    var event = new CustomEvent("station:command", { detail: { command: name }, cancelable: true });
    if (!body.dispatchEvent(event)) return;  // the page did it itself
    var targets = document.querySelectorAll('[data-command="' + name + '"]');
    for (var i = 0; i < targets.length; i++) {
      if (usable(targets[i])) {
        body.dataset.floorCommand = name;  // what was done last (tests read it)
        targets[i].click();
        return;
      }
    }
    floorBanner(bannerHtml("error", NOTHING[name] || "Nothing to do for that command on this screen"));
  }

  function sendBadge(code) {
    var form = new URLSearchParams();
    form.set("code", code);
    fetch(data.floorBadgeUrl, {
      method: "POST", body: form, cache: "no-store", credentials: "same-origin",
      headers: { "HX-Request": "true", "Accept": "text/html", "HX-Current-URL": window.location.href }
    }).then(function (response) {
      var redirect = response.headers.get("HX-Redirect");
      if (redirect) { window.location.assign(redirect); return null; }
      return response.text().then(floorBanner);
    }).catch(function () {
      floorBanner(bannerHtml("error", "No connection to the station server. Check the network, then scan the badge again."));
    });
  }

  function bannerHtml(kind, message) {
    var div = document.createElement("div");
    div.textContent = message;
    return '<section class="scan-result scan-result--' + (kind === "ok" ? "ok" : "bad") + ' floor-banner" data-ok="' +
      (kind === "ok" ? 1 : 0) + '" data-ignored="0"><div class="banner banner--' + kind + ' banner--scan" role="' +
      (kind === "error" ? "alert" : "status") + '"><div class="banner__body"><p class="banner__message">' +
      div.innerHTML + "</p></div></div></section>";
  }

  // A banner that is not the answer to a page's own scan: in #scan-current when the page has one,
  // else in #floor-banner at the top of the page.
  function floorBanner(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var el = template.content.querySelector(".scan-result") || template.content.firstElementChild;
    if (!el) return;
    if (current && earlier) { place(el, true); return; }
    var slot = document.getElementById("floor-banner");
    if (!slot) return;
    slot.replaceChildren(el);
    answerSound(el);
  }

  // A page's scan answer sounds by its data-ok; a floor banner by its kind (info: no sound).
  function answerSound(el) {
    if (!el.classList.contains("floor-banner")) { sound(el.dataset.ok === "1"); return; }
    var kind = window.stationAnswerKind([el]);
    if (kind) sound(kind === "ok");
  }

  // --- scans from the station's own scanner (serial, simulated), by polling the scan log -------

  var feedStopped = false;

  function poll() {
    if (!cfg.feed) return;
    if (document.hidden) { setTimeout(poll, 1000); return; }
    var url = new URL(cfg.feed, window.location.href);
    url.searchParams.set("after", String(cursor));
    fetch(url.toString(), { cache: "no-store", headers: { "HX-Request": "true", "HX-Current-URL": window.location.href } }).then(function (response) {
      // Signed out meanwhile (another tab, badge deactivated): go to sign in, do not poll into 401s.
      var redirect = response.status === 401 && response.headers.get("HX-Redirect");
      if (redirect) { feedStopped = true; window.location.assign(redirect); return null; }
      if (response.status !== 200) return null;
      var last = parseInt(response.headers.get("X-Scan-Last") || "0", 10);
      return response.text().then(function (html) {
        renderAll(html, true);
        if (last > cursor) cursor = last;
      });
    }).catch(function () { /* offline: the next poll tries again */ }).then(function () {
      if (!feedStopped) setTimeout(poll, cfg.pollMs);
    });
  }

  // --- scans from the station's own scanner on a workflow page ----------------------------------
  //
  // <body data-station-feed="/scan/station-feed?station=…" data-station-feed-after="ID"> (base.html,
  // for a station with a scanner_url). The server applies each scan of that scanner to the workflow
  // open at the station (station/workflows/intake.py), in the transaction that logs it; this page polls
  // the feed and, for each applied scan, fetches its answer (/floor/answer/<scan id>) and shows it
  // exactly as it shows the answer to a wedge scan — nothing is posted or resolved a second time. A
  // command or a badge is handled here, as a wedge scan of one would be. The cursor is kept for a few
  // seconds across page loads, so a scan made while a tap's answer was loading the next page is shown.

  var stationFeed = !cfg.feed && data.stationFeed ? data.stationFeed : "";
  var FEED_STORE = "station.feedAfter:" + stationFeed;
  var feedAfter = num(data.stationFeedAfter, 0);
  var FEED_CARRY_MS = 10000;
  var fromStationDone = {};  // scan ids shown or acted on (a poll racing the last one may repeat them)
  var fromStationChain = Promise.resolve();  // answers are shown one after the other, in scan order

  (function carryCursor() {
    if (!stationFeed) return;
    try {
      var kept = JSON.parse(window.sessionStorage.getItem(FEED_STORE) || "null");
      if (kept && Date.now() - kept.at < FEED_CARRY_MS && kept.after < feedAfter) feedAfter = kept.after;
    } catch (e) { /* no storage: start from the page's cursor */ }
  })();

  function keepCursor() {
    try { window.sessionStorage.setItem(FEED_STORE, JSON.stringify({ after: feedAfter, at: Date.now() })); }
    catch (e) { /* private mode */ }
  }

  function showApplied(item) {
    return fetch(item.answer_url, {
      cache: "no-store", credentials: "same-origin",
      headers: { "HX-Request": "true", "Accept": "text/html", "HX-Current-URL": window.location.href }
    }).then(function (response) {
      var redirect = response.headers.get("HX-Redirect");
      return response.text().then(function (html) {
        if (redirect) { window.location.assign(redirect); return; }
        if (response.status === 200) renderAll(html, true);
      });
    });
  }

  function fromStation(answer) {
    var items = (answer.applied || []).map(function (a) { return { id: a.id, applied: a }; })
      .concat((answer.scans || []).map(function (s) { return { id: s.id, code: s.code }; }))
      .sort(function (a, b) { return a.id - b.id; });
    items.forEach(function (item) {
      if (fromStationDone[item.id]) return;
      fromStationDone[item.id] = true;
      fromStationChain = fromStationChain.then(function () {
        if (item.applied) return showApplied(item.applied);
        // Not applied: a command or a badge (handled here), or no workflow was open at the station — a
        // page without one (home, set-up) answers it as it answers a wedge scan (badges only).
        if (!floorTakes(item.code) && cfg.url && cfg.url === data.floorScanUrl) {
          queue.push(newItem(item.code, clientId(), "wedge"));
          save();
          pump();
        }
      }).catch(function () { /* offline: the scan is applied; the page's next refresh shows it */ });
    });
  }

  function pollStation() {
    if (document.hidden) { setTimeout(pollStation, 1000); return; }
    var url = new URL(stationFeed, window.location.href);
    url.searchParams.set("after", String(feedAfter));
    fetch(url.toString(), { cache: "no-store", credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status !== 200) { keepCursor(); return null; }
        return response.json().then(function (answer) {
          if (answer.last > feedAfter) feedAfter = answer.last;
          keepCursor();
          fromStation(answer);
        });
      })
      .catch(function () { /* offline: the next poll tries again */ })
      .then(function () { setTimeout(pollStation, cfg.pollMs); });
  }

  pump();  // scans kept from before a reload
  setTimeout(poll, cfg.pollMs);
  if (stationFeed) pollStation();
})();

// The floor, on every page: a signed-in page goes back to the server (which shows the sign-in page)
// once the operator's idle time (<body data-floor-idle-s>) has passed without a key or a tap; and the
// on-screen keypad ([data-keypad] buttons with data-key) types into its form's [data-keypad-input] (its
// separator key, where the item has decimals, at most once).
(function () {
  "use strict";

  var body = document.body;
  var idle = body && parseFloat(body.dataset.floorIdleS);
  if (idle > 0) {
    var last = Date.now();
    var touch = function () { last = Date.now(); };
    window.addEventListener("keydown", touch, true);
    window.addEventListener("pointerdown", touch, true);
    // Requests count as activity on the server too; +5 s so the server has surely timed out first.
    setInterval(function () {
      if (Date.now() - last > idle * 1000 + 5000) window.location.reload();
    }, 5000);
  }

  document.addEventListener("click", function (event) {
    var key = event.target.closest && event.target.closest("[data-keypad] [data-key]");
    if (!key) return;
    var input = key.form && key.form.querySelector("[data-keypad-input]");
    if (!input) return;
    input.value = keyed(input.value, key.dataset.key);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // One decimal separator at most, and "0," rather than a bare "," (a worker reads the field as typed).
  function keyed(value, k) {
    if (k === "back") return value.slice(0, -1);
    if (k === "," || k === ".") {
      if (/[.,]/.test(value)) return value;
      return (value || "0") + k;
    }
    return value + k;
  }
})();
