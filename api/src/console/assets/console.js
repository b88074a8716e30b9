// carepath console: progressive enhancement only; every page works without it.
// - A journey page (main[data-events]) refreshes its live region from its own
//   URL (main[data-page]) when the journey's event stream says it changed;
//   the console's stream sends every event unnamed, so onmessage sees each.
//   If a refresh fails (signed out, say), it stops and says so.
// - A form with data-confirm asks before it is sent.
"use strict";
(function () {
  var main = document.querySelector("main[data-events]");
  var status = document.getElementById("live-status");
  var say = function (text) { if (status) { status.textContent = text; } };
  if (main && window.EventSource) {
    var pending = null;
    var source = new EventSource(main.getAttribute("data-events"));
    var stop = function (why) { source.close(); say(why); };
    var refresh = function () {
      pending = null;
      fetch(main.getAttribute("data-page"), {
        credentials: "same-origin", cache: "no-store", redirect: "manual",
        headers: { "x-carepath-live": "1" }
      })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("live");
          var live = document.getElementById("live");
          if (!fresh || !live) {
            stop("Live updates stopped (your session may have ended): reload the page.");
            return;
          }
          live.replaceWith(fresh);
        })
        .catch(function () { stop("Live updates stopped: reload the page."); });
    };
    source.onopen = function () { say("Live: updates as the journey moves."); };
    source.onerror = function () { say("Live updates paused; reconnecting…"); };
    source.onmessage = function () { if (!pending) { pending = setTimeout(refresh, 300); } };
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();
