/* A page that comes back with form errors opens on its error summary: focused (screen readers announce it,
   role="alert") and scrolled into view, wherever the form sits on the page. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.scrollIntoView({block: "start"});
  }
})();
