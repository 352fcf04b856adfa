// The Documents page. The NAS panel's "Test the NAS" and "Sync now" POST to /api/v1/sync with
// the page's CSRF token and show the answer. The list is live: an upload from this page
// (upload.js, form with data-stay) and the /events namespace's document_uploaded add rows,
// document_synced / document_sync_failed update a row's NAS cell, document_deleted removes it;
// after each, the synced percentage is refreshed from /api/v1/sync/status. Rows are copies of
// the page's <template>; the server's text goes in with textContent only.
(function () {
  const panel = document.getElementById("nas-panel");
  const list = document.getElementById("documents-list");
  if (!panel || !list) return;
  const { el, size, call, problem, liveEvents } = window.syncappFormat;
  const result = document.getElementById("nas-result");
  const form = document.getElementById("document-upload");
  const heading = document.getElementById("list-heading");
  const tbody = list.querySelector("tbody");
  const STATUS_DELAY_MS = 300; // a sync run sends one event per document: refresh once for many
  let statusTimer = null;

  function field(node, name) { return node.querySelector('[data-field="' + name + '"]'); }

  function rowOf(id) { return tbody.querySelector('tr[data-document="' + Number(id) + '"]'); }

  function describe(body) {
    if (!body) return "No answer.";
    if (typeof body.success === "boolean") return body.message;
    if (typeof body.total === "number") {
      const text = body.synced + " synced, " + body.failed + " failed of " + body.total;
      return body.errors && body.errors.length ? text + ": " + body.errors.join("; ") : text;
    }
    return body.message || body.error || "Done.";
  }

  function showStatus(s) {
    document.getElementById("nas-percentage").textContent =
      window.syncappFormat.percent(s.sync_percentage); // as the server renders it
    document.getElementById("nas-progress").value = s.sync_percentage;
    document.getElementById("nas-counts").textContent =
      s.synced + " of " + s.total_documents + " documents, " + s.pending + " pending";
    document.getElementById("nas-last-sync").replaceChildren(
      s.last_sync ? window.syncappFormat.timeOf(s.last_sync) : "never");
  }

  function refreshStatus() {
    return call("GET", panel.dataset.statusUrl).then(function (answer) {
      if (answer.ok && answer.body) showStatus(answer.body);
    });
  }

  function refreshStatusSoon() {
    if (statusTimer !== null) return;
    statusTimer = window.setTimeout(function () {
      statusTimer = null;
      refreshStatus();
    }, STATUS_DELAY_MS);
  }

  function countBy(change) {
    const total = Math.max(0, Number(heading.dataset.total) + change);
    heading.dataset.total = total;
    heading.textContent = total + " document" + (total === 1 ? "" : "s");
    list.hidden = tbody.children.length === 0;
    document.getElementById("documents-empty").hidden = !list.hidden;
  }

  // The NAS cell as the template renders it: synced with its path, failed with why, or pending.
  function showSync(row, doc) {
    const cell = field(row, "nas");
    if (doc.synced_to_nas) {
      const badge = el("span", "synced", "badge badge-inc");
      badge.title = doc.nas_path || "";
      cell.replaceChildren(badge, " ", el("code", doc.nas_path, "path"));
    } else if (doc.last_error) {
      const badge = el("span", "failed", "badge badge-danger");
      badge.title = doc.last_error;
      cell.replaceChildren(badge, " ", doc.last_error);
    } else {
      cell.replaceChildren(el("span", "pending", "badge badge-diff"));
    }
  }

  // `doc` is an upload's answer or a document_uploaded event: both carry the fields used here.
  // A filtered list (?type=, ?sync=) takes only the documents that match it.
  function matchesFilter(doc) {
    const kind = list.dataset.filterType;
    const sync = list.dataset.filterSync;
    if (kind && doc.type !== kind) return false;
    if (sync === "synced" && !doc.synced_to_nas) return false;
    if (sync === "pending" && doc.synced_to_nas) return false;
    return true;
  }

  function addDocument(doc) {
    if (rowOf(doc.id) || !matchesFilter(doc)) return;
    const row = document.getElementById("document-row-template").content.firstElementChild
      .cloneNode(true);
    row.dataset.document = doc.id;
    const day = el("time", doc.date);
    day.dateTime = doc.date;
    field(row, "date").replaceChildren(day);
    field(row, "type").replaceChildren(el("span", doc.type, "badge"));
    const link = field(row, "file");
    link.textContent = doc.filename;
    link.href = list.dataset.download.replace("/0/", "/" + Number(doc.id) + "/");
    field(row, "size").textContent = size(doc.size); // as the templates' |size filter (syncapp/web/formats.py)
    showSync(row, doc);
    const remove = field(row, "delete");
    remove.dataset.apiUrl = list.dataset.delete.replace(/\/0$/, "/" + Number(doc.id));
    remove.dataset.confirm = "Delete " + doc.filename + "? It is removed from this server; a " +
      "copy already on the NAS stays there.";
    remove.setAttribute("aria-label", "Delete " + doc.filename);
    tbody.prepend(row); // newest first, as the server lists them
    countBy(1);
    refreshStatusSoon();
  }

  form.addEventListener("uploaded", function (event) {
    const doc = event.detail;
    form.elements.namedItem("file").value = ""; // ready for the next document
    // The answer is the document itself (no message): say what happened, and how its sync went.
    const said = "Uploaded " + doc.filename + ".";
    document.getElementById("document-status").textContent =
      doc.sync ? said + " " + doc.sync.message : said;
    addDocument(doc);
  });

  // A row's Delete answered (confirm.js removes the row).
  tbody.addEventListener("api-removed", function () {
    countBy(-1);
    refreshStatusSoon();
  });

  panel.querySelectorAll("button[data-nas-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      result.textContent = "Working…";
      call("POST", button.dataset.nasAction)
        .then(function (answer) {
          result.textContent = answer.body ? describe(answer.body) : problem(answer);
          return refreshStatus();
        })
        .catch(function () { result.textContent = "Error: the connection failed."; })
        .finally(function () { button.disabled = false; });
    });
  });

  const socket = liveEvents("documents-live-status");
  if (!socket) return;
  socket.on("document_uploaded", function (body) { if (body) addDocument(body); });
  socket.on("document_synced", function (body) {
    const row = body && rowOf(body.id);
    if (row) showSync(row, { synced_to_nas: true, nas_path: body.nas_path });
    refreshStatusSoon();
  });
  socket.on("document_sync_failed", function (body) {
    const row = body && rowOf(body.id);
    // The latest attempt decides the badge, even for a document whose earlier copy is on the NAS.
    if (row) showSync(row, { synced_to_nas: false, last_error: body.error });
    refreshStatusSoon();
  });
  socket.on("document_deleted", function (body) {
    const row = body && rowOf(body.id);
    if (row) {
      row.remove();
      countBy(-1);
    }
    refreshStatusSoon();
  });
})();
