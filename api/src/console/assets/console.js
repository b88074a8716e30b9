// carepath console: progressive enhancement only; every page works without it.
// - A journey page (main[data-page]) follows the journey's event stream and
//   refreshes its live region (#live) from the page's own URL when the
//   journey changes; the console's stream sends every event unnamed, so
//   onmessage sees each. A hidden tab closes its stream (a browser allows a
//   handful of connections per host) and reopens it, after the last event
//   it showed, when seen again. If a refresh fails or the stream is closed
//   for good (signed out, say), it stops and says so.
// - A form with data-confirm asks before it is sent.
"use strict";
(function () {
  var main = document.querySelector("main[data-events]");
  var status = document.getElementById("live-status");
  var say = function (text) { if (status) { status.textContent = text; } };
  if (main && window.EventSource) {
    var page = main.getAttribute("data-page");
    var source = null;
    var pending = null;
    var stopped = false;
    var after = function () {
      var live = document.getElementById("live");
      return live ? live.getAttribute("data-after") : "0";
    };
    var stop = function (why) {
      stopped = true;
      if (source) { source.close(); source = null; }
      say(why);
    };
    var refresh = function () {
      pending = null;
      fetch(page, {
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
    var open = function () {
      if (stopped || source) { return; }
      source = new EventSource(page + "/events?after=" + encodeURIComponent(after()));
      source.onopen = function () { say("Live: updates as the journey moves."); };
      source.onerror = function () {
        if (source && source.readyState === EventSource.CLOSED) {
          stop("Live updates stopped (your session may have ended): reload the page.");
        } else {
          say("Live updates paused; reconnecting…");
        }
      };
      source.onmessage = function () { if (!pending) { pending = setTimeout(refresh, 300); } };
    };
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) {
        if (source) { source.close(); source = null; say("Live updates resume when this tab is shown."); }
      } else {
        open();
        refresh();
      }
    });
    open();
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();
