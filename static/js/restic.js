// The restic page: a snapshot restic just saved (event restic_snapshot on the Socket.IO
// namespace /events, authenticated by the session cookie) updates its repository's "last
// snapshot" without a reload. Everything the server sends is shown with textContent.
(function () {
  const table = document.getElementById("restic-repositories");
  const status = document.getElementById("restic-live-status");
  if (!status || typeof window.io !== "function") return;

  function setStatus(text, className) {
    status.textContent = text;
    status.className = "badge " + className;
  }

  function rowOf(body) {
    if (!table) return null;
    for (const row of table.querySelectorAll("tr[data-repository]")) {
      if (row.dataset.repository === body.repository && row.dataset.owner === String(body.owner_id)) {
        return row;
      }
    }
    return null;
  }

  const socket = window.io("/events");
  socket.on("connect", function () { setStatus("live", "badge-inc"); });
  socket.on("disconnect", function () { setStatus("offline, reconnecting…", "badge-danger"); });
  socket.on("connect_error", function () { setStatus("offline", "badge-danger"); });
  socket.on("restic_snapshot", function (body) {
    if (!body || typeof body !== "object" || typeof body.at !== "string") return;
    const row = rowOf(body);
    const cell = row && row.querySelector('[data-field="last-snapshot"]');
    if (!cell) return;
    const time = document.createElement("time");
    time.dateTime = body.at;
    time.textContent = body.at.slice(0, 19).replace("T", " ") + " UTC";
    cell.replaceChildren(time);
  });
})();
