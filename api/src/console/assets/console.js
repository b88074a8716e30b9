// carepath console: progressive enhancement only; every page works without it.
// - A journey page (main[data-events]) refreshes its live region when the
//   journey's event stream (same origin, session cookie) says it changed;
//   the console's stream sends every event unnamed, so onmessage sees all.
// - A form with data-confirm asks before it is sent.
"use strict";
(function () {
  var main = document.querySelector("main[data-events]");
  if (main && window.EventSource) {
    var pending = null;
    var status = document.getElementById("live-status");
    var refresh = function () {
      pending = null;
      fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
          var live = document.getElementById("live");
          if (fresh && live) { live.replaceWith(fresh); }
        });
    };
    var source = new EventSource(main.getAttribute("data-events"));
    source.onopen = function () { if (status) { status.textContent = "Live: updates as the journey moves."; } };
    source.onerror = function () { if (status) { status.textContent = "Live updates paused; reconnecting…"; } };
    source.onmessage = function () { if (!pending) { pending = setTimeout(refresh, 300); } };
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();
