// Uploads a form's file with a real progress bar (XMLHttpRequest reports bytes sent): the
// percentage, the bytes sent of the total, the rate and the time left, beside the bar. The
// form's submit button is disabled while its upload runs, so a second upload cannot start and
// have its answer overwritten by the first's (nor the reverse). A refusal turns the bar into its
// error state (class "upload-failed", aria-invalid) and shows the server's message in the form's
// alert (role=alert), apart from the status line. Forms opt in with class "upload-form"; the
// form then reloads the page once stored, or with data-stay hands the JSON answer to its page's
// script as an "uploaded" event.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function describe(xhr) {
    try {
      const body = JSON.parse(xhr.responseText);
      return body.message || body.error || xhr.statusText;
    } catch (e) {
      return xhr.statusText || "the upload failed";
    }
  }

  // As Jinja's filesizeformat(binary=True) and format.js print sizes.
  function size(bytes) {
    if (bytes < 1024) return bytes + (bytes === 1 ? " Byte" : " Bytes");
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return value.toFixed(1) + " " + units[unit];
  }

  function duration(seconds) {
    if (!isFinite(seconds)) return "…";
    if (seconds < 60) return Math.max(1, Math.round(seconds)) + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.round(seconds % 60) + " s";
    return Math.floor(seconds / 3600) + " h " + Math.round((seconds % 3600) / 60) + " min";
  }

  // The element a form shows its upload's numbers / its refusal in: the template's, or made here.
  function part(form, selector, make, anchor) {
    let node = form.querySelector(selector);
    if (!node) {
      node = make();
      anchor.after(node);
    }
    return node;
  }

  document.querySelectorAll("form.upload-form").forEach(function (form) {
    const progress = form.querySelector("progress");
    const status = form.querySelector('[role="status"]');
    const button = form.querySelector('button[type="submit"]');
    const detail = part(form, "[data-upload-detail]", function () {
      const node = document.createElement("p");
      node.className = "upload-detail";
      node.dataset.uploadDetail = "";
      node.hidden = true;
      return node;
    }, progress);
    const alert = part(form, '[role="alert"]', function () {
      const node = document.createElement("p");
      node.className = "flash flash-error upload-error";
      node.setAttribute("role", "alert");
      node.hidden = true;
      return node;
    }, detail);

    function failed(message) {
      progress.classList.add("upload-failed");
      progress.setAttribute("aria-invalid", "true");
      detail.textContent = "Upload failed.";
      status.textContent = "";
      alert.textContent = message;
      alert.hidden = false;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.uploading) return; // one upload per form at a time
      form.dataset.uploading = "true";
      if (button) button.disabled = true;
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      progress.hidden = false;
      progress.value = 0;
      progress.classList.remove("upload-failed");
      progress.removeAttribute("aria-invalid");
      alert.hidden = true;
      alert.textContent = "";
      detail.hidden = false;
      detail.textContent = "0 % · starting…";
      status.textContent = "Uploading…";
      const started = performance.now();
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable || e.total === 0) return;
        const percent = Math.floor((e.loaded / e.total) * 100);
        progress.value = percent;
        const seconds = (performance.now() - started) / 1000;
        const rate = seconds > 0 ? e.loaded / seconds : 0;
        const left = rate > 0 ? (e.total - e.loaded) / rate : Infinity;
        detail.textContent = percent + " % · " + size(e.loaded) + " of " + size(e.total) +
          " · " + size(Math.round(rate)) + "/s · " +
          (e.loaded >= e.total ? "waiting for the server…" : duration(left) + " left");
      });
      function done() {
        delete form.dataset.uploading;
        if (button) button.disabled = false;
      }
      xhr.addEventListener("load", function () {
        done();
        if (xhr.status >= 200 && xhr.status < 300) {
          progress.value = 100;
          detail.textContent = "100 % · stored.";
          status.textContent = describe(xhr);
          if ("stay" in form.dataset) {
            form.dispatchEvent(new CustomEvent("uploaded", { detail: JSON.parse(xhr.responseText) }));
          } else {
            window.location.reload();
          }
        } else {
          failed(describe(xhr));
        }
      });
      xhr.addEventListener("error", function () {
        done();
        failed("The connection failed before the server answered.");
      });
      xhr.send(new FormData(form));
    });
  });
})();
