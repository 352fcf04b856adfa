// The Cordiax page's live log: events of the signed-in user's devices arrive on the Socket.IO
// namespace /events (authenticated by the session cookie) and are added without a reload; a new
// snapshot also goes to the top of its device's version table. Everything the server sends is
// shown with textContent, never parsed as HTML.
(function () {
  const root = document.getElementById("cordiax");
  if (!root || typeof window.io !== "function") return;
  const log = document.getElementById("cordiax-log");
  const status = document.getElementById("cordiax-live-status");
  const newDevices = document.getElementById("cordiax-new-devices");
  const me = root.dataset.user;
  const MAX_LOG_ROWS = 200;
  const { el, size, timeOf } = window.syncappFormat;

  const titles = JSON.parse(root.dataset.titles);

  // As the template's encryption macro: the badge, and what it means on hover.
  function encryption(encrypted) {
    const node = encrypted ? el("span", "encrypted", "badge badge-inc") : el("span", "plaintext", "badge badge-diff");
    node.title = titles[node.textContent];
    return node;
  }

  // A device's "online / last seen" line follows its connections and pushes.
  function showPresence(event, body) {
    const section = deviceSection(body.device);
    if (!section) return;
    const line = section.querySelector('[data-field="presence"]');
    if (event === "cordiax_connected") {
      line.dataset.online = "true";
      line.replaceChildren(el("span", "online", "badge badge-inc"), " connected since ", timeOf(body.time));
    } else if (event === "cordiax_disconnected") {
      line.dataset.online = "false";
      line.replaceChildren(el("span", "offline", "badge"), " last seen ", timeOf(body.time));
    }
  }

  function setStatus(text, className) {
    status.textContent = text;
    status.className = "badge " + className;
  }

  function describe(event, body) {
    switch (event) {
      case "cordiax_connected": return ["connected", "badge badge-inc", "Connected to /cordiax-sync/"];
      case "cordiax_disconnected": return ["disconnected", "badge", "The connection closed"];
      case "cordiax_snapshot":
        return [body.created ? "snapshot" : "unchanged", "badge badge-full",
          (body.created ? "New version " : "Same as version ") + body.version + " · " + size(body.size) +
          (body.kind === "encrypted" ? "" : " · " + body.kind) + " · " +
          (body.encrypted ? "encrypted" : "plaintext")];
      case "cordiax_error":
        return ["error", "badge badge-danger", (body.error || "error") + ": " + (body.message || "")];
      default: // cordiax_poll and whatever later features publish
        return [event.replace(/^cordiax_/, ""), "badge",
          body.message || body.result || body.error || body.status || ""];
    }
  }

  function addLogRow(event, body) {
    const empty = document.getElementById("cordiax-log-empty");
    if (empty) empty.remove();
    const [label, badgeClass, details] = describe(event, body);
    const row = el("tr");
    row.dataset.event = event;
    const when = el("td");
    when.appendChild(timeOf(body.time));
    const badge = el("td");
    badge.appendChild(el("span", label, badgeClass));
    row.append(when, el("td", body.device || "", "nowrap"), badge, el("td", details));
    log.prepend(row);
    while (log.rows.length > MAX_LOG_ROWS) log.deleteRow(-1);
  }

  function deviceSection(name) {
    // Admins list every user's devices; the events of /events are always the user's own.
    return Array.from(document.querySelectorAll("section.cordiax-device")).find(function (section) {
      return section.dataset.device === name && section.dataset.user === me;
    });
  }

  function addVersion(body) {
    const section = deviceSection(body.device);
    if (!section) {
      newDevices.hidden = false;
      return;
    }
    const latest = section.querySelector('[data-field="latest"]');
    latest.querySelector('[data-field="time"]').replaceChildren(timeOf(body.received_at));
    latest.querySelector('[data-field="size"]').textContent = size(body.size);
    // An "encrypted" kind needs no badge of its own beside the encryption badge.
    const kind = latest.querySelector('[data-field="kind"]');
    if (body.kind === "encrypted") kind.replaceChildren();
    else kind.replaceChildren(el("span", body.kind, "badge"));
    latest.querySelector('[data-field="encrypted"]').replaceChildren(encryption(body.encrypted));
    // its first snapshot: no longer "no snapshot yet", here nor in the devices table; its
    // details and its table show
    latest.querySelector('[data-field="details"]').hidden = false;
    section.querySelector(".table-wrap").hidden = false;
    document.querySelectorAll('[data-field="no-snapshot"]').forEach(function (mark) {
      const owner = mark.closest("section.cordiax-device, tr[data-device]");
      if (owner && owner.dataset.device === body.device) mark.remove();
    });
    const count = latest.querySelector('[data-field="count"]');
    count.dataset.count = String(Number(count.dataset.count) + 1);
    count.textContent = count.dataset.count + (count.dataset.count === "1" ? " version" : " versions");

    const versionCell = document.createDocumentFragment();
    const link = el("a", body.version);
    link.href = section.dataset.download.replace("__VERSION__", encodeURIComponent(body.version));
    link.setAttribute("download", "");
    // the other forms, as the template offers them: the original cordiax.db and a ZIP
    const forms = el("small", "as ", "nowrap");
    [["db", "cordiax.db"], ["zip", "ZIP"]].forEach(function (form, index) {
      const other = el("a", form[1]);
      other.href = link.href + (link.href.indexOf("?") < 0 ? "?" : "&") + "as=" + form[0];
      other.setAttribute("download", "");
      if (index) forms.append(" \u00b7 ");
      forms.append(other);
    });
    versionCell.append(link, " ", forms);
    const sha = el("code", (body.sha256 || "").slice(0, 12) + "…");
    sha.title = body.sha256 || "";
    // as the template's contents macro: the kind's badge unless it is "encrypted", then encryption
    const contents = document.createDocumentFragment();
    if (body.kind !== "encrypted") contents.append(el("span", body.kind, "badge"), " ");
    contents.append(encryption(body.encrypted));
    const cells = [timeOf(body.received_at), versionCell, el("span", size(body.size), "num"), contents, sha,
      body.source || "socketio"];
    const row = el("tr");
    cells.forEach(function (cell, index) {
      const td = el("td");
      if (index === 3) td.className = "nowrap";
      if (typeof cell === "string") td.textContent = cell; else td.appendChild(cell);
      row.appendChild(td);
    });
    if (section.dataset.delete) { // administrators: Delete, as the template's (confirm.js)
      const remove = el("button", "Delete", "button small danger");
      remove.type = "button";
      remove.dataset.apiMethod = "DELETE";
      remove.dataset.apiUrl = section.dataset.delete.replace("__VERSION__", encodeURIComponent(body.version));
      remove.dataset.confirm = "Delete snapshot " + body.version + " of " + section.dataset.device +
        "? Its bytes are removed from the store.";
      remove.dataset.done = "Snapshot deleted.";
      remove.setAttribute("aria-label", "Delete snapshot " + body.version);
      row.appendChild(el("td")).appendChild(remove);
    }
    section.querySelector("tbody").prepend(row);
  }

  const socket = window.io("/events");
  socket.on("connect", function () { setStatus("live", "badge-inc"); });
  socket.on("disconnect", function () { setStatus("offline, reconnecting…", "badge-danger"); });
  socket.on("connect_error", function () { setStatus("offline", "badge-danger"); });
  socket.onAny(function (event, body) {
    if (!event.startsWith("cordiax_") || !body || typeof body !== "object") return;
    addLogRow(event, body);
    showPresence(event, body);
    if (event === "cordiax_snapshot" && body.created) addVersion(body);
  });
})();
