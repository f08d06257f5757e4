/* Upload progress for forms marked data-upload: the same multipart POST as the plain form, sent with
   XMLHttpRequest so its upload events can drive a <progress> bar. Without JavaScript the form posts as usual.

   Before the file is sent, the form's other fields go to the same URL with dry_run=1: the server checks them
   with the rules of the real upload and answers 204, or the form with its errors, so a typo is reported
   before a large file travels. On a success the server names the next page in JSON instead of redirecting,
   so the confirmation it stored is shown there rather than spent on the request the script followed.
   After an error the chosen file stays chosen: the file input of the page that was sent is moved into
   the page that comes back, whose error summary gets the focus (focus.js does it for pages loaded plainly). */
(function () {
  "use strict";

  function focusSummary(root) {
    var summary = (root || document).querySelector("#error-summary");
    if (summary) {
      summary.focus();
      summary.scrollIntoView({block: "start"});
    }
    return summary;
  }

  if (!window.FormData || !window.XMLHttpRequest || !window.DOMParser) { return; }

  function keepFiles(oldForm, freshForm) {
    if (!freshForm) { return; }
    oldForm.querySelectorAll("input[type=file]").forEach(function (input) {
      var fresh = freshForm.querySelector("input[type=file][name='" + input.name + "']");
      if (fresh && input.files && input.files.length && fresh.getAttribute("aria-invalid") !== "true") {
        fresh.replaceWith(input);
      }
    });
  }

  function showPage(html, form) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.querySelector("main");
    var current = document.querySelector("main");
    if (!fresh || !current) { return false; }
    keepFiles(form, fresh.querySelector("form[data-upload]"));
    current.replaceWith(fresh);
    document.title = doc.title;
    if (!focusSummary(fresh)) { fresh.focus(); }
    return true;
  }

  function failed(form, button, status) {
    status.textContent = form.getAttribute("data-failed");
    button.disabled = false;
  }

  function send(form, bar, status, button) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.round(e.loaded * 100 / e.total);
      bar.max = 100;
      bar.value = percent;
      status.textContent = form.getAttribute("data-uploading").replace("{percent}", percent + " %");
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = form.getAttribute("data-processing");
    });
    xhr.addEventListener("load", function () {
      var type = xhr.getResponseHeader("Content-Type") || "";
      if (xhr.status < 400 && type.indexOf("application/json") === 0) {
        window.location.assign(JSON.parse(xhr.responseText).location);
      } else if (xhr.status < 400) {
        window.location.assign(xhr.responseURL || form.action);
      } else if (!showPage(xhr.responseText, form)) {
        failed(form, button, status);
      }
    });
    xhr.addEventListener("error", function () { failed(form, button, status); });
    bar.hidden = false;
    bar.value = 0;
    xhr.send(new FormData(form));
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload")) { return; }
    event.preventDefault();
    var bar = form.querySelector("[data-upload-progress]");
    var status = form.querySelector("[data-upload-status]");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    var check = new FormData(form);
    form.querySelectorAll("input[type=file]").forEach(function (input) { check.delete(input.name); });
    check.append("dry_run", "1");
    var xhr = new XMLHttpRequest();  // the metadata first, without the file
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.addEventListener("load", function () {
      if (xhr.status === 204) {
        send(form, bar, status, button);
      } else if (xhr.status >= 400 && showPage(xhr.responseText, form)) {
        return;
      } else {
        send(form, bar, status, button);  // a server that does not check: the upload decides
      }
    });
    xhr.addEventListener("error", function () { failed(form, button, status); });
    xhr.send(check);
  });
})();
