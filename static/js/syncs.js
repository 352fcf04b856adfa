// The Sync jobs page. The form posts JSON to /api/v1/syncs (PUT /<id> to edit) and shows the
// API's validation errors beside their fields; the row buttons start, stop, force and delete;
// Details loads a job's pending files and history; the live log, the counters and the rows follow
// the Socket.IO namespace /events (authenticated by the session cookie). API calls carry the
// page's CSRF token (format.js). Everything the server sends is shown with textContent, never
// as HTML.
(function () {
  const root = document.getElementById("syncs");
  if (!root) return;
  const api = root.dataset.api;
  const badges = JSON.parse(root.dataset.badges);
  const message = document.getElementById("syncs-message");
  const MAX_LOG_ROWS = 200;
  const NUMBERS = ["sync_interval", "workers", "max_retries", "retry_delay"];
  const TEXTS = ["name", "source_path", "destination_path"];
  const FLAGS = ["enabled", "realtime", "delete_after_sync"];
  const LIST_LIMIT = 200;
  // the job whose pending files and history are shown (only when there are jobs at all)
  const details = { id: null, section: document.getElementById("sync-details") };

  // --- formatting ----------------------------------------------------------------------------

  const { el, size, timeOf, tableRow, call: callUrl, problem } = window.syncappFormat;

  function badge(word, tone) {
    return el("span", word, ("badge " + (badges[tone || word] || "")).trim());
  }

  function seconds(value) {
    return typeof value === "number" ? value.toFixed(1) + " s" : "";
  }

  function runCounts(run) {
    return run.files_copied + " copied, " + run.files_failed + " failed, " +
      run.files_skipped + " skipped · " + size(run.bytes_copied);
  }

  // The page's message is a flash; `run` marks "Run N queued" so run N's end can replace it.
  function say(text, isError, run) {
    message.textContent = text;
    message.className = "flash " + (isError ? "flash-error" : "flash-success");
    if (run) message.dataset.run = String(run);
    else delete message.dataset.run;
  }

  // A run's number within its job (run_number), not its id among every job's runs.
  function runNumber(body) {
    return body.run_number === undefined || body.run_number === null ? body.run_id : body.run_number;
  }

  function runEnded(body) {
    if (message.dataset.run !== String(body.run_id)) return;
    const failed = ["failed", "interrupted", "partial"].indexOf(body.status) >= 0;
    say("Run " + runNumber(body) + " of \u201c" + body.job + "\u201d " + body.status + ": " +
      runCounts(body) + ".", failed);
  }

  // --- the API -------------------------------------------------------------------------------

  // Paths are relative to the jobs API: "" is the list, "/<id>/start" a job's action.
  function call(method, path, body) {
    return callUrl(method, api + path, body);
  }

  // --- job rows ------------------------------------------------------------------------------

  function rowOf(id) { return document.getElementById("sync-job-" + id); }
  function cell(row, name) { return row.querySelector('[data-field="' + name + '"]'); }

  function fillRow(row, job, status) {
    cell(row, "name").textContent = job.name;
    cell(row, "schedule").textContent = "every " + job.sync_interval + " s" +
      (job.realtime ? " · on change" : "") + (job.delete_after_sync ? " · deletes the source" : "");
    cell(row, "source").textContent = job.source_path;
    cell(row, "destination").textContent =
      (job.destination_remote ? job.destination_remote + ":" : "") + (job.destination_path || "/");
    const state = cell(row, "state");
    state.replaceChildren(badge(status.state));
    if (status.last_error) state.append(el("br"), el("small", status.last_error, "error"));
    const last = status.last_run;
    const lastRun = cell(row, "last-run");
    if (last) {
      lastRun.replaceChildren(badge(last.status), " ", timeOf(last.finished_at || last.started_at),
        el("br"), el("small", runCounts(last)));
    } else {
      lastRun.textContent = "never";
    }
    const next = cell(row, "next-run");
    if (!status.enabled) next.textContent = "stopped";
    else if (status.running) next.textContent = "running now";
    else if (status.next_run_at) next.replaceChildren(timeOf(status.next_run_at));
    else next.textContent = "soon";
    row.dataset.enabled = String(status.enabled);
    row.querySelector('[data-action="start"]').hidden = status.enabled;
    row.querySelector('[data-action="stop"]').hidden = !status.enabled;
  }

  function countRows() {
    const rows = document.querySelectorAll("#sync-jobs tr[data-job]").length;
    document.getElementById("syncs-count").textContent = String(rows);
    document.getElementById("syncs-plural").textContent = rows === 1 ? "" : "s";
    document.getElementById("syncs-jobs-card").hidden = rows === 0;
    document.getElementById("syncs-empty").hidden = rows > 0;
  }

  // A job created here (or announced by job_changed): its row from the page's <template>, then
  // its status from the API, read after the row exists so that no run's end can fall between.
  function addRow(job) {
    if (!rowOf(job.id)) {
      const row = document.getElementById("sync-job-row").content.firstElementChild.cloneNode(true);
      row.id = "sync-job-" + job.id;
      row.dataset.job = String(job.id);
      row.dataset.enabled = String(job.enabled);
      document.getElementById("sync-jobs").prepend(row);
      cell(row, "name").textContent = job.name;
      countRows();
    }
    return refreshRow(job.id);
  }

  function removeRow(id) {
    const row = rowOf(id);
    if (row) row.remove();
    if (details.id === id) closeDetails();
    countRows();
  }

  function refreshRow(id) {
    if (!rowOf(id)) return Promise.resolve();
    return Promise.all([call("GET", "/" + id), call("GET", "/" + id + "/status")])
      .then(function (answers) {
        const row = rowOf(id);
        if (answers[0].status === 404) removeRow(id);
        else if (row && answers[0].ok && answers[1].ok) fillRow(row, answers[0].body, answers[1].body);
      });
  }

  // Events come in bursts (a run's end, then a job change): one refresh serves them all.
  const due = new Set();
  function refreshSoon(id) {
    if (due.has(id)) return;
    due.add(id);
    window.setTimeout(function () {
      due.delete(id);
      refreshRow(id);
    }, 250);
  }

  function refreshAll() {
    document.querySelectorAll("#sync-jobs tr[data-job]").forEach(function (row) {
      refreshRow(Number(row.dataset.job));
    });
  }

  // A run in progress: its counts go in the state cell until run_finished refreshes the row.
  function showProgress(row, event, body) {
    if (event === "run_started") {
      row.dataset.copied = row.dataset.failed = row.dataset.bytes = "0";
      cell(row, "next-run").textContent = "running now";
    } else if (event === "file_synced") {
      row.dataset.copied = String(Number(row.dataset.copied || 0) + 1);
      row.dataset.bytes = String(Number(row.dataset.bytes || 0) + (body.size || 0));
    } else {
      row.dataset.failed = String(Number(row.dataset.failed || 0) + 1);
    }
    cell(row, "state").replaceChildren(badge("running"), el("br"), el("small",
      (row.dataset.copied || 0) + " copied, " + (row.dataset.failed || 0) + " failed · " +
      size(Number(row.dataset.bytes || 0))));
  }

  // --- details: pending files and history ----------------------------------------------------

  function fillTable(id, rows, empty, columns) {
    const body = document.getElementById(id);
    body.replaceChildren();
    if (!rows.length) {
      const row = tableRow([empty]);
      row.cells[0].colSpan = columns;
      body.appendChild(row);
    }
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function loadDetails() {
    const id = details.id;
    if (id === null) return Promise.resolve();
    return Promise.all([
      call("GET", "/" + id + "/files?limit=" + LIST_LIMIT),
      call("GET", "/" + id + "/history?limit=" + LIST_LIMIT),
    ]).then(function (answers) {
      if (details.id !== id) return;
      if (!answers[0].ok || !answers[1].ok) {
        say(problem(answers[0].ok ? answers[1] : answers[0]), true);
        return;
      }
      const files = answers[0].body;
      const runs = answers[1].body;
      document.getElementById("files-total").textContent = String(files.total);
      document.getElementById("history-total").textContent = String(runs.total);
      fillTable("details-files", files.files.map(function (file) {
        return tableRow([el("code", file.path, "path"), el("span", size(file.size), "num"),
          badge(file.state), file.attempts, file.last_error]);
      }), "No file waits to be copied.", 5);
      // newest first: the run's number within its job (as the job's page numbers it)
      fillTable("details-history", runs.runs.map(function (run, index) {
        return tableRow([runs.total - index, run.reason, timeOf(run.started_at || run.requested_at),
          badge(run.status), run.files_copied, run.files_skipped, run.files_failed,
          run.files_waiting, run.files_deleted, el("span", size(run.bytes_copied), "num"),
          el("span", seconds(run.duration), "num"),
          run.error]);
      }), "No run yet.", 12);
    });
  }

  function openDetails(id) {
    document.querySelectorAll("#sync-jobs tr.selected").forEach(function (row) {
      row.classList.remove("selected");
    });
    rowOf(id).classList.add("selected");
    details.id = id;
    document.getElementById("details-page").href = root.dataset.jobPage + id;
    document.getElementById("details-name").textContent = cell(rowOf(id), "name").textContent;
    details.section.hidden = false;
    loadDetails().then(function () { details.section.scrollIntoView({ block: "nearest" }); });
  }

  function closeDetails() {
    details.id = null;
    if (details.section) details.section.hidden = true;
    document.querySelectorAll("#sync-jobs tr.selected").forEach(function (row) {
      row.classList.remove("selected");
    });
  }

  if (details.section) {
    document.getElementById("details-close").addEventListener("click", closeDetails);
    document.getElementById("details-retry").addEventListener("click", function (event) {
      const button = event.currentTarget;
      button.disabled = true;
      call("POST", "/" + details.id + "/retry")
        .then(function (answer) {
          say(answer.ok ? answer.body.message : problem(answer), !answer.ok);
          return loadDetails();
        })
        .catch(function () { say("Error: the connection failed.", true); })
        .finally(function () { button.disabled = false; });
    });
  }

  // --- row buttons ---------------------------------------------------------------------------

  const DONE = { start: "started", stop: "stopped", delete: "deleted" };

  function act(button, id, action) {
    const name = cell(rowOf(id), "name").textContent;
    if (action === "delete" && !window.confirm("Delete the sync job \u201c" + name + "\u201d? " +
        "Its history and pending files go with it; files already copied stay where they are.")) {
      return;
    }
    button.disabled = true;
    const request = action === "delete" ? call("DELETE", "/" + id) :
      call("POST", "/" + id + "/" + action);
    request
      .then(function (answer) {
        if (!answer.ok) {
          say(problem(answer), true);
          return null;
        }
        if (action === "force") {
          say("Run " + runNumber(answer.body) + " of \u201c" + name + "\u201d queued.", false,
            answer.body.run_id);
        } else {
          say("\u201c" + name + "\u201d " + DONE[action] + ".");
        }
        if (action === "delete") return removeRow(id);
        return refreshRow(id);
      })
      .catch(function () { say("Error: the connection failed.", true); })
      .finally(function () { button.disabled = false; });
  }

  const jobs = document.getElementById("sync-jobs");
  if (jobs) {
    jobs.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const id = Number(button.closest("tr").dataset.job);
      const action = button.dataset.action;
      if (action === "edit") startEditing(id);
      else if (action === "details") openDetails(id);
      else act(button, id, action);
    });
  }

  // --- the form ------------------------------------------------------------------------------

  const form = document.getElementById("sync-form");
  const formStatus = document.getElementById("sync-form-status");
  const heading = document.getElementById("form-heading");
  const submit = form.querySelector('button[type="submit"]');
  const cancel = document.getElementById("sync-form-cancel");
  let editing = null;
  form.noValidate = true; // the API is the one judge; its messages go beside the fields

  function input(name) { return form.elements.namedItem(name); }

  function globs(text) {
    return text.split(/[,\n]/).map(function (part) { return part.trim(); }).filter(Boolean);
  }

  function formValues() {
    const remote = input("destination_remote").value;
    const values = { destination_remote: remote || null };
    TEXTS.forEach(function (name) { values[name] = input(name).value.trim(); });
    FLAGS.forEach(function (name) { values[name] = input(name).checked; });
    ["include", "exclude"].forEach(function (name) { values[name] = globs(input(name).value); });
    // An empty number keeps the server's default (create) or the job's value (edit).
    NUMBERS.forEach(function (name) {
      if (input(name).value !== "") values[name] = Number(input(name).value);
    });
    return values;
  }

  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (node) {
      node.hidden = true;
      node.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("aria-describedby");
    });
    formStatus.textContent = "";
    formStatus.className = "";
  }

  // webargs nests the messages of list items: {"include": {"0": ["..."]}}.
  function flatten(messages) {
    if (Array.isArray(messages)) return messages.map(flatten).join(" ");
    if (messages && typeof messages === "object") {
      return Object.keys(messages).map(function (key) { return flatten(messages[key]); }).join(" ");
    }
    return String(messages);
  }

  function showError(name, text) {
    const node = form.querySelector('[data-error-for="' + name + '"]');
    if (!node) return false;
    node.textContent = text;
    node.hidden = false;
    const field = input(name);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", node.id);
    }
    return true;
  }

  function showErrors(answer) {
    const body = answer.body || {};
    const others = [];
    if (body.errors && typeof body.errors === "object") {
      Object.keys(body.errors).forEach(function (name) {
        const text = flatten(body.errors[name]);
        if (!showError(name, text)) others.push(name + ": " + text);
      });
    } else if (!(body.field && showError(body.field, body.message)) &&
               !(body.error === "sync_exists" && showError("name", body.message))) {
      others.push(problem(answer));
    }
    formStatus.className = "error";
    formStatus.textContent = others.length ? others.join(" ") : "Please correct the marked fields.";
    const invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) invalid.focus();
  }

  function setMode(job) {
    editing = job ? job.id : null;
    heading.textContent = job ? heading.dataset.edit + " \u201c" + job.name + "\u201d" :
      heading.dataset.create;
    submit.textContent = job ? submit.dataset.edit : submit.dataset.create;
    cancel.hidden = !job;
  }

  function startEditing(id) {
    call("GET", "/" + id).then(function (answer) {
      if (!answer.ok) {
        say(problem(answer), true);
        return;
      }
      const job = answer.body;
      form.reset();
      clearErrors();
      TEXTS.concat(NUMBERS).forEach(function (name) {
        input(name).value = job[name] === null || job[name] === undefined ? "" : job[name];
      });
      FLAGS.forEach(function (name) { input(name).checked = Boolean(job[name]); });
      ["include", "exclude"].forEach(function (name) { input(name).value = job[name].join("\n"); });
      const remotes = input("destination_remote");
      // A remote this page did not list (renamed since) must not silently become "local".
      if (job.destination_remote && !Array.from(remotes.options).some(function (option) {
        return option.value === job.destination_remote;
      })) {
        remotes.appendChild(new Option("remote " + job.destination_remote, job.destination_remote));
      }
      remotes.value = job.destination_remote || "";
      setMode(job);
      form.scrollIntoView({ block: "start" });
      input("name").focus();
    }).catch(function () { say("Error: the connection failed.", true); });
  }

  cancel.addEventListener("click", function () {
    form.reset();
    clearErrors();
    setMode(null);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    const unreadable = NUMBERS.filter(function (name) { return input(name).validity.badInput; });
    if (unreadable.length) {
      unreadable.forEach(function (name) { showError(name, "Enter a number."); });
      formStatus.textContent = "Please correct the marked fields.";
      formStatus.className = "error";
      return;
    }
    const id = editing;
    submit.disabled = true;
    formStatus.textContent = "Saving…";
    call(id === null ? "POST" : "PUT", id === null ? "" : "/" + id, formValues())
      .then(function (answer) {
        if (!answer.ok) {
          showErrors(answer);
          return null;
        }
        if (id === null) {
          // No reload: the page's socket stays connected, so the job's first run (which starts
          // at once) shows live in its row and the log.
          formStatus.textContent = "";
          form.reset();
          say("\u201c" + answer.body.name + "\u201d created" +
            (answer.body.enabled ? ": its first run starts now." : " (stopped)."));
          return addRow(answer.body);
        }
        formStatus.textContent = "";
        say("\u201c" + answer.body.name + "\u201d saved.");
        form.reset();
        setMode(null);
        return refreshRow(id);
      })
      .catch(function () {
        formStatus.textContent = "Error: the connection failed.";
        formStatus.className = "error";
      })
      .finally(function () { submit.disabled = false; });
  });

  // --- the folder picker ---------------------------------------------------------------------
  // Browse… beside a folder field opens the picker at that field's folder (or the roots); a
  // folder's button goes into it, "Use this folder" fills the field. The server lists only
  // folders inside the caller's sync roots (GET /api/v1/syncs/folders).

  const picker = document.getElementById("folder-picker");
  const pick = { field: null, path: null };

  function pickerStatus(text, isError) {
    const node = document.getElementById("folder-picker-status");
    node.textContent = text;
    node.className = isError ? "error" : "";
  }

  function folderButton(label, path) {
    const button = el("button", label, "button small plain");
    button.type = "button";
    button.dataset.path = path;
    const item = el("li");
    item.appendChild(button);
    return item;
  }

  function showRoots() {
    pick.path = null;
    document.getElementById("folder-picker-path").textContent = "Your sync folders";
    document.getElementById("folder-picker-use").disabled = true;
    document.getElementById("folder-picker-up").disabled = true;
    const list = document.getElementById("folder-picker-list");
    list.replaceChildren.apply(list, JSON.parse(picker.dataset.roots).map(function (root) {
      return folderButton(root, root);
    }));
    pickerStatus("");
  }

  function browse(path) {
    pickerStatus("Loading…");
    return callUrl("GET", picker.dataset.api + "?path=" + encodeURIComponent(path))
      .then(function (answer) {
        if (!answer.ok) {
          pickerStatus(problem(answer), true);
          return;
        }
        const body = answer.body;
        pick.path = body.path;
        pick.parent = body.parent;
        document.getElementById("folder-picker-path").textContent = body.path;
        document.getElementById("folder-picker-use").disabled = false;
        document.getElementById("folder-picker-up").disabled = false;
        const list = document.getElementById("folder-picker-list");
        list.replaceChildren.apply(list, body.folders.map(function (name) {
          return folderButton(name, body.path.replace(/\/$/, "") + "/" + name);
        }));
        pickerStatus(body.folders.length ? (body.truncated ? "The first " + body.folders.length +
          " folders are listed." : "") : "No folder inside.");
      })
      .catch(function () { pickerStatus("Error: the connection failed.", true); });
  }

  if (picker) {
    form.addEventListener("click", function (event) {
      const opener = event.target.closest("button[data-browse]");
      if (!opener) return;
      pick.field = opener.dataset.browse;
      document.getElementById("folder-picker-for").textContent =
        form.querySelector('label[for="sync-' + pick.field + '"]').textContent.toLowerCase()
          .replace(/ folder$/, "");
      picker.hidden = false;
      const current = input(pick.field).value.trim();
      if (current) browse(current); else showRoots();
      picker.scrollIntoView({ block: "nearest" });
    });
    document.getElementById("folder-picker-list").addEventListener("click", function (event) {
      const button = event.target.closest("button[data-path]");
      if (button) browse(button.dataset.path);
    });
    document.getElementById("folder-picker-use").addEventListener("click", function () {
      if (pick.path === null) return;
      input(pick.field).value = pick.path;
      picker.hidden = true;
      input(pick.field).focus();
    });
    document.getElementById("folder-picker-up").addEventListener("click", function () {
      if (pick.parent) browse(pick.parent); else showRoots();
    });
    document.getElementById("folder-picker-close").addEventListener("click", function () {
      picker.hidden = true;
      if (pick.field) input(pick.field).focus();
    });
  }

  // --- the live log --------------------------------------------------------------------------

  const log = document.getElementById("syncs-log");
  const live = document.getElementById("syncs-live-status");
  const counters = { synced: 0, failed: 0, bytes: 0 };

  function count(name, by) {
    counters[name] += by;
    document.getElementById("count-" + name).textContent =
      name === "bytes" ? size(counters.bytes) : String(counters[name]);
  }

  // [label, the state or status whose colour the label takes, details]
  function describe(event, body) {
    switch (event) {
      case "run_started": return ["started", "running", "Run " + runNumber(body) + " (" + body.reason + ")"];
      case "file_synced":
        return ["synced", "completed", body.path + " · " + size(body.size) +
          (body.deleted_source ? " · source deleted" : "")];
      case "file_failed": return ["failed", "failed", body.path + ": " + (body.error || "")];
      case "run_finished":
        return [body.status, body.status, "Run " + runNumber(body) + ": " +
          (body.error ? body.status + ": " + body.error + " · " : "") + runCounts(body) +
          (body.duration ? " in " + seconds(body.duration) : "") +
          (body.files_waiting ? " · " + body.files_waiting + " still being written" : "")];
      default: return [body.action, "", "Job " + body.action];
    }
  }

  // One line per change: a run that ended as the job's run before it did, doing nothing (the
  // server says `repeats`: a retry against a destination still down, a check that found nothing)
  // updates that run's line (time, "× N") and takes its own start's line away.
  function repeated(event, body) {
    if (event !== "run_finished" || !body.repeats) return false;
    const previous = log.querySelector('tr[data-event="run_finished"][data-job="' + body.job_id + '"]');
    if (!previous) return false;
    const started = log.querySelector('tr[data-event="run_started"][data-run="' + body.run_id + '"]');
    if (started) started.remove();
    const times = Number(previous.dataset.times || 1) + 1;
    previous.dataset.times = String(times);
    previous.cells[0].replaceChildren(timeOf(body.time));
    let count = previous.querySelector(".syncs-times");
    if (!count) { count = el("small", "", "syncs-times"); previous.cells[3].append(" ", count); }
    count.textContent = "(× " + times + ")";
    return true;
  }

  function addLogRow(event, body) {
    const empty = document.getElementById("syncs-log-empty");
    if (empty) empty.remove();
    if (repeated(event, body)) return;
    const [label, tone, text] = describe(event, body);
    const row = tableRow([timeOf(body.time), body.job, badge(label, tone), text]);
    row.dataset.event = event;
    row.dataset.job = String(body.job_id);
    if (body.run_id !== undefined) row.dataset.run = String(body.run_id);
    log.prepend(row);
    while (log.rows.length > MAX_LOG_ROWS) log.deleteRow(-1);
  }

  function follow(event, body) {
    const row = rowOf(body.job_id);
    if (event === "file_synced") { count("synced", 1); count("bytes", body.size || 0); }
    if (event === "file_failed") count("failed", 1);
    if (event === "run_finished") runEnded(body);
    if (event === "job_changed") {
      if (body.action === "deleted") removeRow(body.job_id);
      else if (row) refreshSoon(body.job_id);
      else if (body.action === "created") addRow({ id: body.job_id, name: body.job, enabled: body.enabled });
      else document.getElementById("syncs-reload").hidden = false;
      return;
    }
    if (!row) return;
    if (event === "run_finished") {
      refreshSoon(body.job_id);
      if (details.id === body.job_id) loadDetails();
    } else {
      showProgress(row, event, body);
    }
  }

  if (typeof window.io !== "function") {
    live.textContent = "offline";
    return;
  }
  const EVENTS = ["run_started", "file_synced", "file_failed", "run_finished", "job_changed"];
  const socket = window.io("/events");
  function setLive(text, className) {
    live.textContent = text;
    live.className = "badge " + className;
  }
  socket.on("connect", function () {
    setLive("live", "badge-inc");
    // What happened before the socket joined (between the page's render and now) or while it was
    // offline shows in the rows at least.
    refreshAll();
  });
  socket.on("disconnect", function () { setLive("offline, reconnecting…", "badge-danger"); });
  socket.on("connect_error", function () { setLive("offline", "badge-danger"); });
  socket.onAny(function (event, body) {
    if (EVENTS.indexOf(event) < 0 || !body || typeof body !== "object") return;
    addLogRow(event, body);
    follow(event, body);
  });
})();
