/* Upload progress for forms marked data-upload: the same multipart POST as the plain form, sent with
   XMLHttpRequest so its upload events can drive a <progress> bar. Without JavaScript the form posts as usual. */
(function () {
  "use strict";
  if (!window.FormData || !window.XMLHttpRequest || !window.DOMParser) { return; }

  function showPage(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.querySelector("main");
    var current = document.querySelector("main");
    if (!fresh || !current) { return false; }
    current.replaceWith(fresh);
    document.title = doc.title;
    var summary = fresh.querySelector("#error-summary");
    (summary || fresh).focus();
    return true;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload")) { return; }
    event.preventDefault();
    var bar = form.querySelector("[data-upload-progress]");
    var status = form.querySelector("[data-upload-status]");
    var button = form.querySelector("button[type=submit]");
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
      if (xhr.status < 400) {
        window.location.assign(xhr.responseURL || form.action);
      } else if (!showPage(xhr.responseText)) {
        status.textContent = form.getAttribute("data-failed");
        button.disabled = false;
      }
    });
    xhr.addEventListener("error", function () {
      status.textContent = form.getAttribute("data-failed");
      button.disabled = false;
    });
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    xhr.send(new FormData(form));
  });
})();
