/* The desk calendar's behaviour: close the side panel, focus it when it opens, drag a visit
   onto a free time to move it. Loaded with <script defer>; no inline script (CSP). */
(function () {
  "use strict";
  var lastOpener = null;

  function panel() { return document.getElementById("desk-panel"); }

  function closePanel() {
    var p = panel();
    if (!p || !p.firstChild) return;
    p.replaceChildren();
    if (lastOpener && document.body.contains(lastOpener)) lastOpener.focus();
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest(".cal-book, .cal-appt");
    if (opener) lastOpener = opener;
    if (event.target.closest("[data-panel-close]")) closePanel();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel() && panel().contains(document.activeElement)) closePanel();
    // Enter in the patient search looks the patient up; it must not submit the booking.
    if (event.key === "Enter" && event.target.matches("[data-search]")) event.preventDefault();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== panel()) return;
    var heading = document.getElementById("desk-panel-heading");
    if (heading) heading.focus();
  });

  // The grid scrolls inside its box: open it at "now" (today) or the first visit or open time,
  // and keep its scroll position when an action sends a fresh grid back.
  function scroller() { return document.querySelector("#calendar-grid .cal-scroll"); }

  function scrollToStart() {
    var box = scroller();
    if (!box) return;
    var mark = box.querySelector(".cal-time.has-now, .cal-appt, .cal-free");
    var head = box.querySelector("thead");
    if (!mark) return;
    var top = mark.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    // Leave half an hour above the mark in view.
    box.scrollTop = Math.max(0, top - (head ? head.offsetHeight : 0) - 60);
  }

  var kept = null;
  function keep(event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "calendar-grid" || !scroller()) return;
    kept = { top: scroller().scrollTop, left: scroller().scrollLeft };
  }
  function restore(event) {
    var target = event.detail && event.detail.target;
    if (!kept || !target || target.id !== "calendar-grid" || !scroller()) return;
    scroller().scrollTop = kept.top;
    scroller().scrollLeft = kept.left;
    kept = null;
  }
  document.addEventListener("htmx:oobBeforeSwap", keep);
  document.addEventListener("htmx:beforeSwap", keep);
  document.addEventListener("htmx:oobAfterSwap", restore);
  document.addEventListener("htmx:afterSwap", restore);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scrollToStart);
  else scrollToStart();

  // Drag and drop: a booked visit onto a free time posts the move; the answer (the visit, or
  // the conflict with alternatives) shows in the panel and the grid is sent back with it.
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var appt = event.target.closest && event.target.closest(".cal-appt[data-move-url]");
    if (!appt) return;
    dragged = appt;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", appt.dataset.appointment);
  });
  document.addEventListener("dragend", function () {
    dragged = null;
    document.querySelectorAll(".is-drop-target").forEach(function (cell) { cell.classList.remove("is-drop-target"); });
  });
  document.addEventListener("dragover", function (event) {
    var cell = dragged && event.target.closest && event.target.closest(".cal-free[data-provider]");
    if (!cell) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".is-drop-target").forEach(function (c) { if (c !== cell) c.classList.remove("is-drop-target"); });
    cell.classList.add("is-drop-target");
  });
  document.addEventListener("drop", function (event) {
    var cell = dragged && event.target.closest && event.target.closest(".cal-free[data-provider]");
    if (!cell || !window.htmx) return;
    event.preventDefault();
    lastOpener = dragged;
    window.htmx.ajax("POST", dragged.dataset.moveUrl, {
      source: cell,
      target: "#desk-panel",
      values: { start: cell.dataset.start, provider: cell.dataset.provider }
    });
  });
})();
