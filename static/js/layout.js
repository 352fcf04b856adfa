// What every page shares (loaded by base.html in <head>, before the page's own scripts):
// - times: the server renders <time datetime="...Z">absolute UTC</time> (templates/_time.html,
//   format.js's timeOf for live rows); here each one says "2 h ago" in the browser's zone, with
//   the absolute local time on hover (title). A date without a time (datetime="2026-03-01") is
//   a calendar day in no zone: it stays "2026-03-01", "1 Mar 2026" on hover. Times inserted later (live rows) are formatted as
//   they arrive, and relative texts are refreshed every 30 s.
// - tables: on a phone every row stacks as a card, each cell after its column's name: cells get
//   data-label from their table's header (server-rendered and live-inserted rows alike).
// - the main menu: one "Menu" button on a phone instead of three lines of links.
window.syncappTime = (function () {
  document.documentElement.classList.add("js");

  const DAY_ONLY = /^\d{4}-\d{2}-\d{2}$/;
  const STEPS = [[60, "s"], [3600, "min"], [86400, "h"]];

  function pad(number) { return String(number).padStart(2, "0"); }

  function zoneName(moment) {
    const part = new Intl.DateTimeFormat("en-GB", { timeZoneName: "short" })
      .formatToParts(moment).find(function (p) { return p.type === "timeZoneName"; });
    return part ? part.value : "";
  }

  // "2026-12-07 13:18:21 CET": the pages' one absolute form, in the browser's zone.
  function absolute(moment) {
    return moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" + pad(moment.getDate()) + " " +
      pad(moment.getHours()) + ":" + pad(moment.getMinutes()) + ":" + pad(moment.getSeconds()) + " " +
      zoneName(moment);
  }

  function day(text) {
    const [year, month, date] = text.split("-").map(Number);
    return new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" })
      .format(new Date(Date.UTC(year, month - 1, date)));
  }

  // "just now", "5 min ago", "2 h ago", "3 d ago", "in 4 min"; older than a week: the date.
  function relative(moment, now) {
    const seconds = Math.round((now - moment) / 1000);
    const ahead = seconds < 0;
    const span = Math.abs(seconds);
    if (span < 45) return ahead ? "in a moment" : "just now";
    let text = null;
    if (span < 3600) text = Math.round(span / 60) + " min";
    else if (span < 86400) text = Math.round(span / 3600) + " h";
    else if (span < 7 * 86400) text = Math.round(span / 86400) + " d";
    if (text === null) {
      return moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" + pad(moment.getDate()) + " " +
        pad(moment.getHours()) + ":" + pad(moment.getMinutes());
    }
    return ahead ? "in " + text : text + " ago";
  }

  function render(node) {
    const value = node.getAttribute("datetime");
    if (!value) return;
    if (DAY_ONLY.test(value)) {
      if (node.dataset.shown === value) return;
      node.dataset.shown = value;
      node.textContent = value;
      node.title = day(value);
      return;
    }
    const moment = new Date(value);
    if (Number.isNaN(moment.getTime())) return;
    const text = relative(moment, Date.now());
    if (node.dataset.shown === value && node.textContent === text) return;
    node.dataset.shown = value;
    node.title = absolute(moment);
    node.textContent = text;
  }

  function renderAll(root) {
    if (root.matches && root.matches("time[datetime]")) render(root);
    if (root.querySelectorAll) root.querySelectorAll("time[datetime]").forEach(render);
  }

  // --- tables: each cell's column name, for the stacked phone layout ---------------------------
  function headings(table) {
    const row = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!row) return null;
    const names = [];
    Array.from(row.cells).forEach(function (cell) {
      const name = (cell.dataset.label || cell.textContent).replace(/\s+/g, " ").trim();
      for (let i = 0; i < (cell.colSpan || 1); i += 1) names.push(name);
    });
    return names;
  }

  function label(table) {
    const names = headings(table);
    if (!names) return;
    Array.from(table.tBodies).forEach(function (body) {
      Array.from(body.rows).forEach(function (row) {
        let column = 0;
        Array.from(row.cells).forEach(function (cell) {
          if (!cell.hasAttribute("data-label") && names[column] && (cell.colSpan || 1) === 1) {
            cell.setAttribute("data-label", names[column]);
          }
          column += cell.colSpan || 1;
        });
      });
    });
  }

  function labelAll(root) {
    if (!root.querySelectorAll) return;
    const table = root.closest ? root.closest("table") : null;
    if (table) label(table);
    root.querySelectorAll("table").forEach(label);
  }

  // --- the main menu ---------------------------------------------------------------------------
  function menu() {
    const button = document.getElementById("menu-toggle");
    const bar = button && button.closest(".topbar");
    if (!button || !bar) return;
    button.addEventListener("click", function () {
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      bar.classList.toggle("menu-open", open);
    });
  }

  function start() {
    renderAll(document);
    labelAll(document);
    menu();
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        if (change.type === "attributes") { render(change.target); return; }
        change.addedNodes.forEach(function (node) {
          if (node.nodeType !== 1) return;
          renderAll(node);
          labelAll(node);
        });
        if (change.target.nodeType === 1 && change.target.matches("time[datetime]")) render(change.target);
      });
    }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["datetime"] });
    setInterval(function () { renderAll(document); }, 30000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  return { render: render, renderAll: renderAll, absolute: absolute, relative: relative };
})();
