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
