// The Backups page: archives join their profile's table without a reload, in a new profile
// section for a profile's first. Both an upload from this page (upload.js, form with data-stay)
// and a `backup_uploaded` event on /events (any client's upload) make the page ask /list for
// that profile and add the archives it does not show yet. Rows and sections are copies of the
// page's <template>s; the server's text goes in with textContent only. Every user's backups are
// their own; an administrator's page also shows other users' (the events name the owner), in
// sections of their own that name the owner, read with /list?owner=.
(function () {
  const form = document.getElementById("backup-upload");
  const profiles = document.getElementById("backup-profiles");
  if (!form || !profiles) return;
  const { el, size, timeOf, call } = window.syncappFormat;

  function field(node, name) { return node.querySelector('[data-field="' + name + '"]'); }

  function copyOf(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
  }

  // `owner` is null for the viewer's own archives, else {id, email} of another user's.
  function ownerKey(owner) { return owner ? String(owner.id) : ""; }

  function findSection(profile, owner) {
    return Array.from(profiles.children).find(function (section) {
      return section.dataset.profile === profile && section.dataset.owner === ownerKey(owner);
    });
  }

  function sectionOf(profile, owner) {
    const found = findSection(profile, owner);
    if (found) return found;
    const section = copyOf("backup-profile-template");
    section.dataset.profile = profile;
    section.dataset.owner = ownerKey(owner);
    const heading = section.querySelector("h2");
    heading.id = "profile-" + profile + (owner ? "-" + owner.id : "");
    heading.textContent = profile;
    if (owner) heading.append(" ", el("small", owner.email, "lede"));
    section.setAttribute("aria-labelledby", heading.id);
    // Sections stay in profile order, as the server renders them.
    const next = Array.from(profiles.children).find(function (other) {
      return other.dataset.profile > profile;
    });
    profiles.insertBefore(section, next || null);
    return section;
  }

  function shown(name, profile, owner) {
    const section = findSection(profile, owner);
    return !!section && Array.from(section.querySelectorAll("tr[data-archive]")).some(function (row) {
      return row.dataset.archive === name;
    });
  }

  // `item` is one archive of /list (report.archive_item on the server).
  function addArchive(item, owner) {
    if (shown(item.name, item.profile, owner)) return;
    const row = copyOf("backup-row-template");
    row.dataset.archive = item.name;
    field(row, "type").replaceChildren(el("span", item.type, "badge badge-" + item.type.toLowerCase()));
    const link = field(row, "name");
    link.textContent = item.name;
    link.href = profiles.dataset.download.replace("__TYPE__", encodeURIComponent(item.type))
      .replace("__NAME__", encodeURIComponent(item.name)) + "?profile=" + encodeURIComponent(item.profile) +
      (owner ? "&owner=" + owner.id : ""); // two profiles may hold one name
    field(row, "size").textContent = size(item.size); // as every page prints sizes
    field(row, "uploaded").replaceChildren(timeOf(item.modified));
    const md5 = field(row, "md5");
    md5.textContent = item.md5.slice(0, 8) + "…";
    md5.title = item.md5;
    const chain = field(row, "chain");
    if (item.type === "FULL") chain.textContent = "base";
    else if (item.base_missing) chain.replaceChildren(el("span", "FULL missing", "badge badge-danger"));
    else chain.textContent = "on " + item.base_archive;
    if (item.integrity === "corrupt") chain.append(" ", el("span", "corrupt", "badge badge-danger"));
    const query = "?profile=" + encodeURIComponent(item.profile) + (owner ? "&owner=" + owner.id : "");
    function urlOf(pattern) {
      return pattern.replace("__TYPE__", encodeURIComponent(item.type))
        .replace("__NAME__", encodeURIComponent(item.name)) + query;
    }
    const verify = field(row, "verify");
    verify.dataset.apiUrl = urlOf(profiles.dataset.verify);
    verify.setAttribute("aria-label", "Verify " + item.name);
    const remove = field(row, "delete");
    if (remove) {
      remove.dataset.apiUrl = urlOf(profiles.dataset.delete);
      remove.dataset.confirm = "Delete the " + item.type + " archive " + item.name + " of profile " +
        item.profile + "? Its bytes are removed from the store; archives built on it can no " +
        "longer be restored.";
      remove.setAttribute("aria-label", "Delete " + item.name);
    }
    sectionOf(item.profile, owner).querySelector("tbody").prepend(row); // newest first
    document.getElementById("backups-empty").hidden = true;
  }

  function showProfile(profile, owner) {
    const whose = owner ? "&owner=" + encodeURIComponent(owner.id) : "";
    return call("GET", "/list?profile=" + encodeURIComponent(profile) + whose).then(function (answer) {
      if (!answer.ok) return;
      const items = [].concat.apply([], Object.values(answer.body.backups));
      items.sort(function (a, b) { return a.uploaded_at < b.uploaded_at ? -1 : 1; });
      items.forEach(function (item) { addArchive(item, owner); });
    });
  }

  // A "Verify" answered (confirm.js): what the archive's fresh read found, in its row.
  profiles.addEventListener("api-done", function (event) {
    const result = event.detail;
    if (!result || event.target.dataset.field !== "verify") return;
    const text = {
      verified: "verified: MD5 matches, complete gzip",
      corrupt: "corrupt: " + result.detail,
      missing: "missing: " + result.detail,
    }[result.integrity] || result.integrity;
    const badge = result.integrity === "verified" ? "badge-inc" : "badge-danger";
    field(event.target.closest("tr"), "verified").replaceChildren(el("span", text, "badge " + badge));
  });

  // A deleted archive's row is gone (confirm.js): so is its profile's section once empty.
  profiles.addEventListener("api-removed", function (event) {
    const section = event.target.closest("section[data-profile]");
    if (section && !section.querySelector("tr[data-archive]")) section.remove();
    document.getElementById("backups-empty").hidden = profiles.children.length > 0;
  });

  form.addEventListener("uploaded", function (event) {
    form.elements.namedItem("file").value = ""; // ready for the next archive
    showProfile(event.detail.profile, null);
  });

  const live = document.getElementById("backups-live-status");
  function setLive(text, className) {
    live.textContent = text;
    live.className = "badge " + className;
  }
  if (typeof window.io !== "function") {
    setLive("offline", "badge-danger");
    return;
  }
  const socket = window.io("/events");
  socket.on("connect", function () { setLive("live", "badge-inc"); });
  socket.on("disconnect", function () { setLive("offline, reconnecting…", "badge-danger"); });
  socket.on("connect_error", function () { setLive("offline", "badge-danger"); });
  socket.on("backup_uploaded", function (body) {
    if (!body || typeof body.profile !== "string") return;
    const other = body.owner_id !== undefined && String(body.owner_id) !== profiles.dataset.me;
    const owner = other ? { id: body.owner_id, email: body.owner || "" } : null;
    if (!shown(body.name, body.profile, owner)) showProfile(body.profile, owner);
  });
})();
