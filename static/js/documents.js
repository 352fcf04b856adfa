// The Documents page's NAS panel: "Test the NAS" and "Sync now" POST to /api/v1/sync with the
// page's CSRF token, show the answer, and the sync percentage is refreshed from /status.
// Everything the server sends is shown with textContent, never parsed as HTML.
(function () {
  const panel = document.getElementById("nas-panel");
  if (!panel) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const result = document.getElementById("nas-result");

  function describe(body) {
    if (!body) return "No answer.";
    if (typeof body.success === "boolean") return body.message;
    if (typeof body.total === "number") {
      const text = body.synced + " synced, " + body.failed + " failed of " + body.total;
      return body.errors && body.errors.length ? text + ": " + body.errors.join("; ") : text;
    }
    return body.message || body.error || "Done.";
  }

  function refreshStatus() {
    return fetch(panel.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) return;
        document.getElementById("nas-percentage").textContent = s.sync_percentage + "%";
        document.getElementById("nas-progress").value = s.sync_percentage;
        document.getElementById("nas-counts").textContent =
          s.synced + " of " + s.total_documents + " documents, " + s.pending + " pending";
        document.getElementById("nas-last-sync").textContent = s.last_sync || "never";
      });
  }

  panel.querySelectorAll("button[data-nas-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      result.textContent = "Working…";
      fetch(button.dataset.nasAction, {
        method: "POST",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (r) { return r.json().catch(function () { return null; }); })
        .then(function (body) {
          result.textContent = describe(body);
          return refreshStatus();
        })
        .then(function () { if (button.dataset.reload) window.setTimeout(function () { window.location.reload(); }, 1500); })
        .catch(function () { result.textContent = "Error: the connection failed."; })
        .finally(function () { button.disabled = false; });
    });
  });
})();
