/* Job progress: polls the page-side status route (session cookie, same origin) and reloads the page to show
   the results when the job ends. Without JavaScript a <noscript> refresh does the same, more slowly. */
(function () {
  "use strict";
  var box = document.querySelector("[data-job-status-url]");
  if (!box || !window.fetch || box.getAttribute("data-job-done") === "true") { return; }
  var url = box.getAttribute("data-job-status-url");
  var bar = box.querySelector("progress");
  var label = box.querySelector("[data-job-status]");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (job) {
        bar.value = job.progress;
        label.textContent = job.status_label;
        label.className = "badge badge-" + job.status;
        if (job.done) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 500);
})();
