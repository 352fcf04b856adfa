// The dashboard, live: events of the Socket.IO namespace /events (authenticated by the session
// cookie) go to the top of "Last events" as they arrive; those that change a figure also ask for
// a fresh summary from GET /api/v1/dashboard (at most one request every REFRESH_GAP ms), which
// updates the counters, the tables and both charts in place. Replication progress moves its bar
// directly. Everything the server sends is shown with textContent, never parsed as HTML.
(function () {
  const root = document.getElementById("dashboard");
  if (!root) return;
  const { el, size } = window.syncappFormat;
  const links = JSON.parse(root.dataset.links);
  const MAX_EVENTS = 30;
  const REFRESH_GAP = 3000;
  // Documents publish no event, and administrators hear only their own replication jobs: a slow
  // refresh catches what no event announces.
  const PERIODIC_REFRESH = 60000;
  const REFRESHING = new Set([
    "backup_uploaded", "backup_verified", "cordiax_snapshot", "cordiax_poll", "run_started",
    "run_finished", "job_changed", "cloud_job_finished",
  ]);

  // --- formatting ------------------------------------------------------------------------------

  function when(iso) {
    if (!iso) return document.createTextNode("—");
    return window.syncappFormat.timeOf(iso); // layout.js shows it relative, in the browser's zone
  }

  function formatted(value, format) {
    if (format === "size") return size(value);
    if (format === "percent") return window.syncappFormat.percent(value);
    if (format === "length") return String(value.length);
    return String(value);
  }

  function lookup(data, path) {
    return path.split(".").reduce(function (node, key) {
      return node === undefined || node === null ? undefined : node[key];
    }, data);
  }

  function badge(text, kind) {
    return el("span", text, "badge" + (kind ? " badge-" + kind : ""));
  }

  function cell(tag, children) {
    const node = el(tag);
    children.forEach(function (child) {
      if (child === null || child === undefined) return;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function small(text) { return el("small", text, "lede"); }

  // --- charts ----------------------------------------------------------------------------------

  // WCAG AA-contrasting hues on white, distinct for the common colour-vision deficiencies.
  const COLOURS = {
    FULL: "#1f5fbf", INC: "#1a7f37", DIFF: "#b45309", cordiax: "#7c3aed", documents: "#0e7490",
    cloud: "#be185d", backups: "#1f5fbf", syncs: "#4d7c0f",
  };
  const STORAGE_NAMES = {
    FULL: "Backups · FULL", INC: "Backups · INC", DIFF: "Backups · DIFF",
    cordiax: "Cordiax snapshots", documents: "Documents", cloud: "Cloud files",
  };
  const TRANSFER_NAMES = {
    backups: "Backups received", cordiax: "Cordiax snapshots", documents: "Documents received",
    syncs: "Sync runs", cloud: "Cloud replication",
  };
  const charts = {};

  function datasets(series, names, area) {
    return series.map(function (line, index) {
      const colour = COLOURS[line.key] || "#5a6573";
      return {
        label: names[line.key] || line.key,
        data: line.data,
        borderColor: colour,
        backgroundColor: area ? colour + "59" : colour,
        fill: area ? (index === 0 ? "origin" : "-1") : false,
        pointRadius: 0,
        borderWidth: area ? 1.5 : 0,
      };
    });
  }

  // Steps of a power of two bytes, so that the axis reads 256 MiB, 512 MiB… and not 190.7 MiB.
  function binaryLimits(scale) {
    const top = Math.max(scale.max, 0);
    const step = top > 0 ? Math.max(1, Math.pow(2, Math.ceil(Math.log2(top / 5)))) : 256;
    scale.min = 0;
    scale.max = Math.max(Math.ceil(top / step), top > 0 ? 1 : 4) * step;
    scale.binaryStep = step;
  }

  function binaryTicks(scale) {
    const ticks = [];
    for (let value = 0; value <= scale.max; value += scale.binaryStep) ticks.push({ value: value });
    scale.ticks = ticks;
  }

  function chartLabels(labels, hourly) {
    return labels.map(function (label) { return hourly ? label.slice(11, 16) : label.slice(5); });
  }

  function drawChart(id, type, data, names, hourly) {
    const canvas = document.getElementById(id);
    if (!canvas || typeof window.Chart !== "function") return null;
    return new window.Chart(canvas, {
      type: type,
      data: { labels: chartLabels(data.labels, hourly), datasets: datasets(data.series, names, type === "line") },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: {
            stacked: true,
            afterDataLimits: binaryLimits,
            afterBuildTicks: binaryTicks,
            ticks: { callback: function (value) { return size(value); } },
          },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: { label: function (item) { return item.dataset.label + ": " + size(item.parsed.y); } },
          },
        },
      },
    });
  }

  function updateChart(chart, data, hourly) {
    if (!chart) return;
    chart.data.labels = chartLabels(data.labels, hourly);
    data.series.forEach(function (line, index) { chart.data.datasets[index].data = line.data; });
    chart.update("none");
  }

  const initial = JSON.parse(root.dataset.charts);
  charts.storage = drawChart("dash-chart-storage", "line", initial.storage, STORAGE_NAMES, false);
  charts.transfers = drawChart("dash-chart-transfers", "bar", initial.transfers, TRANSFER_NAMES, true);

  // --- the summary's sections ------------------------------------------------------------------

  function verification(check) {
    if (!check) return [badge("never verified")];
    if (check.sync_status === "SYNCHRONIZED") return [badge("in sync", "inc"), " ", when(check.verified_at)];
    return [badge("out of sync", "danger"), " ", when(check.verified_at), " ",
      el("small", check.missing + " missing, " + check.mismatched + " mismatched")];
  }

  function backupRow(p) {
    const counts = p.counts;
    const archives = [String(p.archives) + " ",
      small("(" + counts.FULL + " FULL · " + counts.INC + " INC · " + counts.DIFF + " DIFF)")];
    if (p.broken_chains) archives.push(" ", badge(p.broken_chains + " without their FULL", "danger"));
    const full = p.last_full
      ? [when(p.last_full.uploaded_at), el("br"), small(p.last_full.name)]
      : [badge("no FULL yet", "danger")];
    const name = [p.profile];
    if (p.owner) name.push(el("br"), small(p.owner));
    const row = cell("tr", [cell("th", name), cell("td", archives), cell("td", [el("span", size(p.size), "num")]),
      cell("td", full), cell("td", verification(p.verification))]);
    row.firstChild.scope = "row";
    row.dataset.profile = p.profile;
    return row;
  }

  function deviceRow(d) {
    const name = [d.device];
    if (d.owner) name.push(el("br"), small(d.owner));
    const row = cell("tr", [cell("th", name), cell("td", [when(d.last_snapshot.received_at)]),
      cell("td", [el("span", size(d.last_snapshot.size), "num")]), cell("td", [String(d.versions)])]);
    row.firstChild.scope = "row";
    return row;
  }

  function targetBadges(targets) {
    if (!targets.length) return ["no cloud chosen"];
    const kinds = { completed: "inc", failed: "danger", conflict: "danger" };
    return targets.reduce(function (parts, t) {
      return parts.concat([badge(t.target + ": " + t.status, kinds[t.status]), " "]);
    }, []);
  }

  function progressCell(job) {
    if (!job.targets.length) {
      const none = badge("not set up");
      none.title = "This file was stored without choosing a cloud: nothing is replicated";
      return cell("td", [none]);
    }
    const bar = el("progress");
    bar.max = 100;
    bar.value = job.progress_percentage;
    bar.setAttribute("aria-label", "Replication of " + (job.filename || "file #" + job.file_id));
    const text = el("small", job.status + " · " + window.syncappFormat.percent(job.progress_percentage));
    text.dataset.field = "progress";
    return cell("td", [bar, " ", text]);
  }

  function cloudRow(job) {
    const name = [job.filename + " ", small("v" + job.version)];
    if (job.owner) name.push(el("br"), small(job.owner));
    const row = cell("tr", [cell("th", name), cell("td", targetBadges(job.targets)), progressCell(job)]);
    row.firstChild.scope = "row";
    row.dataset.job = job.job_id;
    row.dataset.filename = job.filename;
    return row;
  }

  function lastRun(last) {
    if (!last) return ["No run has finished yet."];
    const run = last.run;
    const kind = run.status === "completed" ? "inc" : run.status === "failed" ? "danger" : "diff";
    return ["Last run: ", el("strong", last.job), " ", badge(run.status, kind), " ", when(run.finished_at),
      " · " + run.files_copied + " copied, " + run.files_failed + " failed · " + size(run.bytes_copied)];
  }

  function attentionItem(job) {
    const parts = [badge(job.state.replace(/_/g, " "), "danger"), " ", el("strong", job.name)];
    if (job.last_error) parts.push(": " + job.last_error);
    return cell("li", parts);
  }

  function fill(id, items, build) {
    const node = document.getElementById(id);
    if (node) node.replaceChildren.apply(node, items.map(build));
  }

  function toggle(name, has) {
    root.querySelectorAll('[data-empty="' + name + '"]').forEach(function (n) { n.hidden = has; });
    root.querySelectorAll('[data-filled="' + name + '"]').forEach(function (n) { n.hidden = !has; });
  }

  // The headline's health: what /api/v1/health answers, with the failing checks named.
  function showHealth(health) {
    const node = document.getElementById("dash-health");
    if (!node || !health) return;
    node.dataset.state = health.status;
    const code = el("code", "/api/v1/health");
    if (health.status === "ok") {
      node.replaceChildren(badge("healthy", "inc"), " every check of ", code, " passes");
      return;
    }
    const parts = [badge("unhealthy", "danger"), " ", code, " fails: "];
    health.failing.forEach(function (failure, index) {
      if (index) parts.push("; ");
      parts.push(el("strong", failure.check), ": " + failure.detail);
    });
    node.replaceChildren.apply(node, parts);
  }

  function apply(summary) {
    showHealth(summary.health);
    Object.keys(summary.tiles || {}).forEach(function (name) {
      const tile = root.querySelector('[data-tile="' + name + '"]');
      if (tile) tile.dataset.state = summary.tiles[name];
    });
    root.querySelectorAll("[data-nas]").forEach(function (node) {
      node.hidden = (node.dataset.nas === "configured") !== summary.documents.nas_configured;
    });
    root.querySelectorAll("[data-stat]").forEach(function (node) {
      const value = lookup(summary, node.dataset.stat);
      if (node.dataset.unless && !lookup(summary, node.dataset.unless)) node.textContent = "—";
      else if (value !== undefined && value !== null) node.textContent = formatted(value, node.dataset.format);
    });
    root.querySelectorAll(".dash-states li").forEach(function (item) {
      item.classList.toggle("dash-zero", item.querySelector("[data-stat]").textContent === "0");
    });
    const conflicts = document.getElementById("dash-conflicts");
    conflicts.className = "badge " + (summary.cloud.open_conflicts ? "badge-danger" : "badge-inc");
    document.getElementById("dash-doc-progress").value = summary.documents.sync_percentage;
    const run = document.getElementById("dash-last-run");
    run.replaceChildren.apply(run, lastRun(summary.syncs.last_run));

    fill("dash-backups", summary.backups.profiles, backupRow);
    fill("dash-devices", summary.cordiax.devices, deviceRow);
    fill("dash-cloud-jobs", summary.cloud.jobs, cloudRow);
    fill("dash-attention", summary.syncs.attention, attentionItem);
    toggle("backups", summary.backups.profiles.length > 0);
    toggle("cordiax", summary.cordiax.devices.length > 0);
    toggle("documents", summary.documents.total > 0);
    toggle("syncs", summary.syncs.jobs > 0);
    toggle("cloud", summary.cloud.jobs.length > 0);

    updateChart(charts.storage, summary.charts.storage, false);
    updateChart(charts.transfers, summary.charts.transfers, true);
  }

  // --- refreshing, at most once every REFRESH_GAP ms -------------------------------------------

  let lastFetch = 0;
  let timer = null;
  let busy = false;
  let again = false;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    lastFetch = Date.now();
    fetch(root.dataset.summaryUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(apply)
      .catch(function () { setLive("not up to date", "danger"); })
      .finally(function () {
        busy = false;
        if (again) { again = false; refreshSoon(); }
      });
  }

  function refreshSoon() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refresh(); },
      Math.max(0, lastFetch + REFRESH_GAP - Date.now()));
  }

  setInterval(function () { if (document.visibilityState === "visible") refreshSoon(); }, PERIODIC_REFRESH);

  // --- the live list of events -----------------------------------------------------------------

  const RUN_LEVELS = { completed: "ok", failed: "error", running: "info", cancelled: "info" };

  function jobRow(jobId) {
    return jobId ? root.querySelector('tr[data-job="' + CSS.escape(jobId) + '"]') : null;
  }

  function described(event, b) {
    const who = b.device || b.name || "";
    switch (event) {
      case "backup_uploaded":
        return ["backups", "ok", b.type + " backup uploaded", b.profile + " · " + b.name, b.size];
      case "backup_verified":
        return ["backups", b.sync_status === "SYNCHRONIZED" ? "ok" : "error",
          b.sync_status === "SYNCHRONIZED" ? "Backups verified" : "Backups out of sync",
          (b.profiles || []).join(", ") + ": " + b.synced + " synced, " + b.missing + " missing, " +
          b.mismatched + " mismatched"];
      case "cordiax_snapshot":
        return ["cordiax", "ok", "Snapshot of " + b.device + (b.created ? "" : " (unchanged)"),
          "version " + b.version, b.size];
      case "cordiax_connected": return ["cordiax", "info", who + " connected", "/cordiax-sync/"];
      case "cordiax_disconnected": return ["cordiax", "info", who + " disconnected", ""];
      case "cordiax_error":
        return ["cordiax", "error", "Snapshot of " + who + " refused", (b.error || "") + ": " + (b.message || "")];
      case "cordiax_poll":
        return ["cordiax", b.error ? "error" : "info", "Share poll " + who, b.error || b.result || ""];
      case "run_started": return ["syncs", "info", "Sync job " + b.job + " started", b.reason || ""];
      case "run_finished":
        // A run that failed says why ("failed: <reason>"), not only its zero counts.
        return ["syncs", RUN_LEVELS[b.status] || "warning", "Sync job " + b.job + ": " + b.status +
          (b.error ? ": " + b.error : ""),
          b.files_copied + " copied, " + b.files_failed + " failed", b.bytes_copied || null];
      case "file_failed":
        return ["syncs", "error", "Sync job " + b.job + ": a file failed", b.path + ": " + (b.error || "")];
      case "job_changed":
        return ["syncs", "info", "Sync job " + b.job + " " + (b.action || "changed"), (b.state || "").replace(/_/g, " ")];
      case "cloud_job_finished": {
        const row = jobRow(b.job_id); // the event names the file by its id only
        const file = row ? row.dataset.filename : "file #" + b.file_id;
        if (!(b.targets || []).length) { // sent to no cloud: nothing was replicated
          return ["cloud", "info", file + " v" + b.version + " stored", "cloud replication not set up", b.bytes_total];
        }
        return ["cloud", b.status === "completed" ? "ok" : "error",
          "Replication of " + file + " v" + b.version + ": " + b.status +
            (b.status !== "completed" && b.error_message ? ": " + b.error_message : ""),
          b.targets.map(function (t) { return t.target; }).join(", "), b.bytes_total];
      }
      default: return null; // file_synced and cloud_progress are too many to list
    }
  }

  // One event per state change: a run that repeats its job's previous one (the server says so:
  // `repeats`, the same status and reason, nothing done, e.g. every retry against a destination
  // that is down) updates that entry's time and count instead of adding a line per retry.
  function repeated(event, body) {
    if (event !== "run_finished" || !body.repeats) return false;
    // the job's newest run entry (the list is newest first)
    const item = document.querySelector('#dash-events [data-key="syncs-' + body.job_id + '"]');
    if (!item) return false;
    const started = document.querySelector('#dash-events [data-run="' + body.run_id + '"]');
    if (started) started.remove(); // the repeat's start goes with it
    const times = Number(item.dataset.times || 1) + 1;
    item.dataset.times = String(times);
    item.querySelector("time").replaceWith(when(body.time));
    let count = item.querySelector(".dash-times");
    if (!count) { count = el("small", "", "dash-times lede"); item.append(" ", count); }
    count.textContent = "× " + times;
    return true;
  }

  function addEvent(event, body) {
    const found = described(event, body);
    if (!found || repeated(event, body)) return;
    const [source, level, title, detail, bytes] = found;
    const list = document.getElementById("dash-events");
    const link = el("a", source, "badge dash-source");
    link.href = links[source];
    const text = typeof bytes === "number" ? detail + " · " + size(bytes) : detail;
    const item = cell("li", [when(body.time), " ", link, " ", el("strong", title), " ",
      el("span", text, "dash-detail")]);
    item.className = "dash-event dash-level-" + level;
    item.dataset.event = event;
    if (event === "run_finished") item.dataset.key = "syncs-" + body.job_id;
    if (event === "run_started") item.dataset.run = String(body.run_id);
    list.prepend(item);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
    toggle("events", true);
  }

  function moveProgress(body) {
    const row = jobRow(body.job_id);
    if (!row) { refreshSoon(); return; }
    row.querySelector("progress").value = body.progress_percentage;
    row.querySelector('[data-field="progress"]').textContent = body.status + " · " + window.syncappFormat.percent(body.progress_percentage);
    if (body.targets) row.children[1].replaceChildren.apply(row.children[1], targetBadges(body.targets));
  }

  // --- the connection --------------------------------------------------------------------------

  const status = document.getElementById("dash-live-status");
  function setLive(text, kind) {
    status.textContent = text;
    status.className = "badge" + (kind ? " badge-" + kind : "");
  }

  if (typeof window.io !== "function") { setLive("offline"); return; }
  const socket = window.io("/events");
  let connectedBefore = false;
  socket.on("connect", function () {
    setLive("live", "inc");
    if (connectedBefore) refreshSoon(); // what happened while the connection was down
    connectedBefore = true;
  });
  socket.on("disconnect", function () { setLive("offline, reconnecting…", "danger"); });
  socket.on("connect_error", function () { setLive("offline", "danger"); });
  socket.onAny(function (event, body) {
    if (!body || typeof body !== "object") return;
    addEvent(event, body);
    if (event === "cloud_progress") moveProgress(body);
    else if (REFRESHING.has(event)) refreshSoon();
  });
})();
