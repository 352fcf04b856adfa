// The Cloud files page. upload.js sends the upload form with its progress bar and hands the
// answer here ("uploaded"); each replication job is then followed through the Socket.IO
// namespace /events (cloud_progress, cloud_job_finished), or by polling /api/v1/status/<job>
// while the socket is down. File rows are refreshed from /api/v1/files/<id>; their buttons fetch
// a cloud copy's short-lived download_url, expand the versions and delete. Conflicts are resolved
// with POST /api/v1/conflicts/<id>/resolve. API calls carry the page's CSRF token (format.js);
// everything the server sends is shown with textContent, never as HTML.
(function () {
  const root = document.getElementById("cloud");
  if (!root) return;
  const { el, size, timeOf, tableRow, call, problem } = window.syncappFormat;
  const filesApi = root.dataset.filesApi;
  const statusApi = root.dataset.statusApi;
  const conflictsApi = root.dataset.conflictsApi;
  const TARGETS = JSON.parse(root.dataset.targets);
  const labels = JSON.parse(root.dataset.labels);
  const badges = JSON.parse(root.dataset.badges);
  const message = document.getElementById("cloud-message");
  const POLL_MS = 1500;
  const FINISHED = ["completed", "failed"];
  let live = false; // while the socket is up, events replace polling

  function badge(word, tone) {
    return el("span", word, ("badge " + (badges[tone || word] || "")).trim());
  }

  function field(node, name) { return node.querySelector('[data-field="' + name + '"]'); }

  function say(parts, isError) {
    message.replaceChildren.apply(message, [].concat(parts));
    message.className = "flash " + (isError ? "flash-error" : "flash-success");
  }

  function fromTemplate(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
  }

  function busy(button, request) {
    button.disabled = true;
    return request
      .catch(function () { say("Error: the connection failed.", true); })
      .finally(function () { button.disabled = false; });
  }

  // --- file rows -----------------------------------------------------------------------------

  const filesBody = document.getElementById("cloud-files");
  const filesHeading = document.getElementById("files-heading");
  let total = Number(filesHeading.dataset.total);

  function rowOf(id) { return document.getElementById("cloud-file-" + id); }
  function fileUrl(id) { return filesApi + "/" + id; }
  function copyCell(row, target) { return row.querySelector('td[data-target="' + target + '"]'); }

  function setTotal(count) {
    total = count;
    filesHeading.textContent = count + (count === 1 ? " file" : " files");
    document.getElementById("cloud-files-panel").hidden = count === 0;
    document.getElementById("cloud-empty").hidden = count !== 0;
  }

  // As the template's copy_state macro renders it.
  function fillCopy(cell, copy) {
    if (!copy) {
      cell.replaceChildren(el("span", "\u2014", "lede"));
      return;
    }
    cell.replaceChildren(badge(copy.status));
    if (copy.synced_version) {
      const held = el("small", "v" + copy.synced_version);
      held.title = "the version this cloud holds";
      cell.append(" ", held);
    }
    if (copy.last_error && copy.status !== "completed") {
      cell.append(el("br"), el("small", copy.last_error, "error"));
    }
  }

  function fillRow(row, file) {
    row.id = "cloud-file-" + file.id;
    row.dataset.file = String(file.id);
    field(row, "filename").textContent = file.filename;
    // a row the page did not list is the signed-in user's file (an upload, a conflict's copy)
    const owner = field(row, "owner");
    if (owner && !owner.textContent && file.owner_id === Number(root.dataset.userId)) {
      owner.textContent = root.dataset.userEmail;
    }
    field(row, "size").textContent = size(file.size);
    field(row, "version").textContent = String(file.version);
    field(row, "updated").replaceChildren(timeOf(file.updated_at));
    field(row, "download").href = fileUrl(file.id) + "?download=true&from_storage=local";
    const copies = {};
    file.targets.forEach(function (copy) { copies[copy.target] = copy; });
    TARGETS.forEach(function (target) {
      const copy = copies[target];
      fillCopy(copyCell(row, target), copy);
      row.querySelector('[data-from="' + target + '"]').hidden = !(copy && copy.synced_version);
    });
  }

  // The file as the API has it now: its row updated, added (a new file) or removed (deleted).
  function showFile(id) {
    return call("GET", fileUrl(id)).then(function (answer) {
      let row = rowOf(id);
      if (answer.status === 404) {
        dropRow(id);
        return;
      }
      if (!answer.ok) return;
      if (!row) {
        row = fromTemplate("cloud-file-row");
        filesBody.prepend(row);
        setTotal(total + 1);
      }
      fillRow(row, answer.body);
      if (versionsRow(id)) loadVersions(id);
    });
  }

  function dropRow(id) {
    const row = rowOf(id);
    if (!row) return;
    closeVersions(id);
    row.remove();
    setTotal(Math.max(0, total - 1));
  }

  // A job's event says what each cloud is doing; the versions they hold come with showFile.
  function showCopyStates(view) {
    const row = rowOf(view.file_id);
    if (!row) return;
    view.targets.forEach(function (state) {
      const cell = copyCell(row, state.target);
      const shown = cell.querySelector(".badge");
      if (shown) shown.replaceWith(badge(state.status));
      else cell.replaceChildren(badge(state.status));
    });
  }

  // --- row buttons: a cloud's copy, versions, delete -----------------------------------------

  function fromCloud(button, id, target) {
    const url = fileUrl(id) + "?download=true&from_storage=" + encodeURIComponent(target);
    return busy(button, call("GET", url).then(function (answer) {
      if (!answer.ok) {
        say(problem(answer), true);
        return;
      }
      const link = answer.body;
      const tab = window.open(link.download_url, "_blank");
      if (tab) tab.opener = null;
      // The link stays on the page for a browser that blocked the new tab.
      const anchor = el("a", "download it");
      anchor.href = link.download_url;
      anchor.target = "_blank";
      anchor.rel = "noopener";
      say([labels[target] + " holds version " + link.version + ": ", anchor,
        " (the link is valid for " + link.expires_in + " s)."]);
    }));
  }

  function versionsRow(id) { return document.getElementById("cloud-versions-" + id); }

  function closeVersions(id) {
    const open = versionsRow(id);
    if (open) open.remove();
    const row = rowOf(id);
    if (row) row.querySelector('[data-action="versions"]').setAttribute("aria-expanded", "false");
  }

  function versionsTable(id, list) {
    const table = el("table", null, "versions");
    const head = el("tr");
    ["Version", "Size", "MD5", "Modified", "Origin", ""].forEach(function (name) {
      const th = el("th", name);
      th.scope = "col";
      head.appendChild(th);
    });
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    list.versions.forEach(function (version) {
      const number = el("span", "v" + version.number);
      if (version.current) number.append(" ", badge("current", "completed"));
      const link = el("a", "Download", "button small plain");
      link.href = fileUrl(id) + "/versions/" + version.number + "/download";
      const actions = el("span");
      actions.append(link);
      if (!version.current) {
        // its bytes become a new current version; the history stays (POST .../restore)
        const restore = el("button", "Make current", "button small plain");
        restore.type = "button";
        restore.dataset.action = "restore-version";
        restore.dataset.file = String(id);
        restore.dataset.version = String(version.number);
        actions.append(" ", restore);
      }
      body.appendChild(tableRow([number, size(version.size), el("code", version.md5),
        timeOf(version.modified_at), version.origin, actions]));
    });
    return table;
  }

  function loadVersions(id) {
    return call("GET", fileUrl(id) + "/versions").then(function (answer) {
      const file = rowOf(id);
      if (!answer.ok) {
        say(problem(answer), true);
        return;
      }
      if (!file) return;
      let row = versionsRow(id);
      if (!row) {
        row = el("tr", null, "versions");
        row.id = "cloud-versions-" + id;
        file.after(row);
      }
      const cell = el("td");
      cell.colSpan = file.cells.length;
      cell.appendChild(versionsTable(id, answer.body));
      row.replaceChildren(cell);
      file.querySelector('[data-action="versions"]').setAttribute("aria-expanded", "true");
    });
  }

  // Both questions are confirm.js's dialog in the page, not window.confirm.
  function removeFile(button, id) {
    const name = field(rowOf(id), "filename").textContent;
    window.syncappConfirm("Delete \u201c" + name + "\u201d with all its versions, here and in " +
        "every cloud that holds a copy?", "Delete").then(function (confirmed) {
      if (confirmed) removeConfirmed(button, id, name);
    });
  }

  function removeConfirmed(button, id, name) {
    busy(button, call("DELETE", fileUrl(id))
      .then(function (answer) {
        if (answer.status !== 503) return answer;
        return window.syncappConfirm(problem(answer) + " Delete it here anyway and leave the " +
            "cloud copies where they are?", "Delete here").then(function (confirmed) {
          return confirmed ? call("DELETE", fileUrl(id) + "?keep_cloud_copies=true") : answer;
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          say(problem(answer), true);
          return;
        }
        dropRow(id);
        say("\u201c" + name + "\u201d deleted.");
      }));
  }

  function restoreVersion(button) {
    const id = Number(button.dataset.file);
    const number = button.dataset.version;
    const name = field(rowOf(id), "filename").textContent;
    window.syncappConfirm("Make version " + number + " of \u201c" + name + "\u201d the current " +
        "one? Its bytes become a new version (the history stays) and go to every cloud that " +
        "holds the file.", "Make current").then(function (confirmed) {
      if (confirmed) restoreConfirmed(button, id, number);
    });
  }

  function restoreConfirmed(button, id, number) {
    const url = fileUrl(id) + "/versions/" + encodeURIComponent(number) + "/restore";
    busy(button, call("POST", url).then(function (answer) {
      if (!answer.ok) {
        say(problem(answer), true);
        return;
      }
      say(answer.body.message);
      if (answer.body.created_version) track(answer.body.job_id, answer.body.filename);
      return showFile(id);
    }));
  }

  filesBody.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.action === "restore-version") {
      restoreVersion(button);
      return;
    }
    const id = Number(button.closest("tr").dataset.file);
    const action = button.dataset.action;
    if (action === "from-cloud") fromCloud(button, id, button.dataset.from);
    else if (action === "delete") removeFile(button, id);
    else if (versionsRow(id)) closeVersions(id);
    else busy(button, loadVersions(id));
  });

  // --- replication jobs ----------------------------------------------------------------------

  const jobsPanel = document.getElementById("cloud-jobs-panel");
  const jobsBody = document.getElementById("cloud-jobs");
  const jobs = new Map(); // job id -> { row, progress, finished, polling }

  function track(jobId, filename) {
    if (jobs.has(jobId)) return;
    const row = fromTemplate("cloud-job-row");
    row.id = "cloud-job-" + jobId;
    field(row, "file").textContent = filename;
    jobsBody.prepend(row);
    jobsPanel.hidden = false;
    jobs.set(jobId, { row: row, progress: 0, finished: false, polling: false });
    poll(jobId);
  }

  function showTargets(cell, targets) {
    cell.replaceChildren();
    if (!targets.length) cell.textContent = "none: kept on this server only";
    targets.forEach(function (state, index) {
      if (index) cell.append(" ");
      cell.append(labels[state.target] + " ", badge(state.status));
      if (state.error && state.status !== "completed") {
        cell.append(" ", el("small", state.error, "error"));
      }
    });
  }

  function showJob(view) {
    const job = jobs.get(view.job_id);
    if (!job || job.finished) return; // a poll answered after the final event
    const finished = FINISHED.indexOf(view.status) >= 0;
    // an answer older than the last event must not move the bar back
    job.progress = finished ? view.progress_percentage :
      Math.max(job.progress, view.progress_percentage);
    const row = job.row;
    field(row, "version").textContent = "v" + view.version;
    const status = field(row, "status");
    status.replaceChildren(badge(view.status));
    if (view.error_message) status.append(el("br"), el("small", view.error_message, "error"));
    field(row, "bar").value = job.progress;
    field(row, "progress").textContent = job.progress.toFixed(1) + "% of " + size(view.bytes_total);
    showTargets(field(row, "targets"), view.targets);
    showCopyStates(view);
    if (!finished) return;
    job.finished = true;
    showFile(view.file_id);
    if (view.targets.some(function (state) { return state.status === "conflict"; })) {
      lookForConflicts();
    }
  }

  function poll(jobId) {
    const job = jobs.get(jobId);
    if (job.polling || job.finished) return;
    job.polling = true;
    call("GET", statusApi + encodeURIComponent(jobId))
      .then(function (answer) {
        if (answer.ok) {
          showJob(answer.body);
        } else if (answer.status === 404) { // deleted with its file
          job.finished = true;
          field(job.row, "status").replaceChildren(badge("deleted"));
        }
      })
      .catch(function () { /* the next round asks again */ })
      .finally(function () { job.polling = false; });
  }

  function pollUnfinished() {
    jobs.forEach(function (job, jobId) { poll(jobId); });
  }

  // A job this page did not start (another tab, a script) is followed as well.
  function follow(view) {
    if (!jobs.has(view.job_id)) {
      const row = rowOf(view.file_id);
      track(view.job_id, row ? field(row, "filename").textContent : "file " + view.file_id);
    }
    showJob(view);
  }

  document.getElementById("cloud-upload").addEventListener("uploaded", function (event) {
    const reply = event.detail;
    event.target.elements.namedItem("file").value = "";
    showFile(reply.file_id);
    track(reply.job_id, reply.filename);
  });

  // --- conflicts -----------------------------------------------------------------------------

  const POLICY_NAMES = { "last-write": "keep newest", "keep-both": "keep both", manual: "chosen" };

  function describeOutcome(conflict) {
    const where = labels[conflict.target];
    const outcome = conflict.outcome || {};
    let text;
    if (outcome.winner === "remote") {
      text = "the " + where + " file won and is version " + outcome.local.version + " here";
    } else if (outcome.winner === "both" && outcome.conflict_file) {
      text = "both kept: the " + where + " file is here as \u201c" +
        outcome.conflict_file.filename + "\u201d, this server's version went to " + where;
    } else {
      text = "this server's version " + outcome.local.version + " won";
    }
    if (outcome.cloud) {
      text += "; " + where + " holds version " + outcome.cloud.version + " (MD5 " +
        outcome.cloud.md5 + ")";
    }
    return "Resolved (" + POLICY_NAMES[conflict.policy] + "): " + text + "." +
      (outcome.replicating ? " The other clouds are getting it." : "");
  }

  function resolve(card, button) {
    const body = { policy: button.dataset.policy };
    if (button.dataset.keep) body.keep = button.dataset.keep;
    const notes = card.querySelector("textarea");
    if (notes.value.trim()) body.notes = notes.value.trim();
    const buttons = card.querySelectorAll("button");
    const result = field(card, "outcome");
    function failed(text) {
      result.textContent = text;
      result.className = "error";
      buttons.forEach(function (node) { node.disabled = false; });
    }
    buttons.forEach(function (node) { node.disabled = true; });
    result.className = "";
    result.textContent = "Resolving…";
    call("POST", conflictsApi + "/" + card.dataset.conflict + "/resolve", body)
      .then(function (answer) {
        if (!answer.ok) {
          failed(problem(answer));
          return;
        }
        const conflict = answer.body;
        result.textContent = describeOutcome(conflict);
        field(card, "state").replaceWith(badge("resolved"));
        countResolved();
        notes.disabled = true;
        card.classList.add("resolved");
        showFile(conflict.file_id);
        const copy = (conflict.outcome || {}).conflict_file;
        if (copy && copy.file_id !== conflict.file_id) showFile(copy.file_id);
        if (conflict.outcome && conflict.outcome.replicating) {
          track(conflict.outcome.replicating, conflict.filename);
        }
      })
      .catch(function () { failed("Error: the connection failed."); });
  }

  function countResolved() {
    const count = document.getElementById("conflicts-count");
    const left = Math.max(0, Number(count.dataset.count) - 1);
    count.dataset.count = String(left);
    count.textContent = left ? left + " open" : "all resolved";
    count.className = "badge " + (left ? "badge-danger" : "badge-inc");
  }

  function lookForConflicts() {
    call("GET", conflictsApi + "?resolved=false").then(function (answer) {
      if (!answer.ok) return;
      const unseen = answer.body.conflicts.filter(function (conflict) {
        return !document.getElementById("cloud-conflict-" + conflict.id);
      });
      if (unseen.length) document.getElementById("cloud-reload").hidden = false;
    });
  }

  document.getElementById("cloud-conflicts").addEventListener("click", function (event) {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.action === "choose") {
      const choices = document.getElementById(button.getAttribute("aria-controls"));
      choices.hidden = !choices.hidden;
      button.setAttribute("aria-expanded", String(!choices.hidden));
    } else if (button.dataset.policy) {
      resolve(button.closest("[data-conflict]"), button);
    }
  });

  // --- Google Drive --------------------------------------------------------------------------

  // The success notice is for this visit only: a reload must not claim a new connection.
  if (/[?&]google=/.test(window.location.search)) {
    window.history.replaceState(null, "", window.location.pathname);
  }

  const disconnect = document.getElementById("google-disconnect");
  if (disconnect) {
    disconnect.addEventListener("click", function () {
      if (!window.confirm("Disconnect Google Drive? The files already in your Drive stay " +
          "there; syncapp no longer copies anything to it.")) {
        return;
      }
      const status = document.getElementById("google-status");
      const url = document.getElementById("google-panel").dataset.disconnectUrl;
      busy(disconnect, call("DELETE", url).then(function (answer) {
        if (!answer.ok) {
          status.textContent = problem(answer);
          status.className = "error";
          return;
        }
        window.location.reload(); // the upload form's Google Drive box is now off
      }));
    });
  }

  // --- live updates --------------------------------------------------------------------------

  const liveStatus = document.getElementById("cloud-live-status");
  function setLive(isLive) {
    live = isLive;
    liveStatus.textContent = isLive ? "live" : "polling";
    liveStatus.className = "badge " + (isLive ? "badge-inc" : "badge-diff");
  }

  JSON.parse(root.dataset.activeJobs).forEach(function (job) { track(job.job_id, job.filename); });
  window.setInterval(function () { if (!live) pollUnfinished(); }, POLL_MS);

  if (typeof window.io !== "function") {
    setLive(false);
    return;
  }
  const socket = window.io("/events");
  socket.on("connect", function () {
    setLive(true);
    pollUnfinished(); // what happened while the socket was down
  });
  socket.on("disconnect", function () { setLive(false); });
  socket.on("connect_error", function () { setLive(false); });
  ["cloud_progress", "cloud_job_finished"].forEach(function (name) {
    socket.on(name, function (body) {
      if (body && typeof body === "object" && body.job_id) follow(body);
    });
  });
})();
