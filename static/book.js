// Booking calendar: after htmx swaps in a day's free times, move the focus to their heading, so a
// keyboard or screen-reader user continues from the times rather than from the day they picked.
// htmx:load fires on the new content (the old #times is detached, so its events never reach here).
document.addEventListener("htmx:load", function (event) {
  var loaded = event.detail && event.detail.elt;
  if (loaded && loaded.id === "times") {
    var heading = document.getElementById("times-heading");
    if (heading && heading.hasAttribute("tabindex")) {
      heading.focus();
    }
  }
});
