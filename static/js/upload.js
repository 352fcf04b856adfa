// Uploads a form's file with a real progress bar (XMLHttpRequest reports bytes sent), then
// reloads the page so the new item shows. Forms opt in with class "upload-form"; a form with
// data-stay instead hands the JSON answer to its page's script as an "uploaded" event.
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

  document.querySelectorAll("form.upload-form").forEach(function (form) {
    const progress = form.querySelector("progress");
    const status = form.querySelector('[role="status"]');
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      progress.hidden = false;
      progress.value = 0;
      status.textContent = "Uploading…";
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          progress.value = 100;
          status.textContent = describe(xhr);
          if ("stay" in form.dataset) {
            form.dispatchEvent(new CustomEvent("uploaded", { detail: JSON.parse(xhr.responseText) }));
          } else {
            window.location.reload();
          }
        } else {
          status.textContent = "Error: " + describe(xhr);
        }
      });
      xhr.addEventListener("error", function () { status.textContent = "Error: the connection failed."; });
      xhr.send(new FormData(form));
    });
  });
})();
