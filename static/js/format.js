// Formatting shared by the live pages (Cordiax, Sync jobs, Cloud files): nodes whose text comes
// from the server (textContent only, never HTML), sizes and percentages printed as
// syncapp/web/formats.py prints them in the server-rendered rows, times from ISO 8601 strings,
// table rows, JSON calls to the API with the page's CSRF token, and the API's validation
// messages shown beside form fields.
window.syncappFormat = (function () {
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // As syncapp/web/formats.py prints them (the `size` and `percent` Jinja filters): IEC units,
  // one decimal above a kibibyte; whole percents rounded down, "100 %" only when done.
  function size(bytes) {
    if (typeof bytes !== "number") return "";
    if (Math.abs(bytes) < 1024) return Math.trunc(bytes) + " B";
    const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    let value = bytes / 1024;
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return value.toFixed(1) + " " + units[unit];
  }

  function percent(value) {
    const number = Number(value);
    if (value === null || value === undefined || Number.isNaN(number)) return "";
    return (number >= 100 ? 100 : Math.max(0, Math.floor(number))) + " %";
  }

  // As templates/_time.html prints it (absolute UTC); static/js/layout.js then shows it in the
  // browser's zone, relative, the absolute time on hover, as it does every server-rendered one.
  function timeOf(iso) {
    const node = el("time");
    if (!iso) return node;
    const plain = iso.replace(/\.\d+/, "").replace(/\+00:00$/, "Z");
    const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(plain) ? plain : plain + "Z"; // the API's UTC
    const [day, clock] = zoned.replace(/[zZ]$/, "").split("T");
    node.dateTime = zoned;
    node.append(el("span", day, "nowrap"), " ", el("span", (clock || "").slice(0, 8) + " UTC", "nowrap"));
    if (window.syncappTime) window.syncappTime.render(node);
    return node;
  }

  function tableRow(values) {
    const row = el("tr");
    values.forEach(function (value) {
      const cell = el("td");
      if (value instanceof Node) cell.appendChild(value);
      else if (value !== undefined && value !== null) cell.textContent = String(value);
      row.appendChild(cell);
    });
    return row;
  }

  // Resolves to {ok, status, body}: body is the parsed JSON answer, or null (204, not JSON).
  function call(method, url, body) {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const headers = { Accept: "application/json", "X-CSRFToken": csrf };
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (answer) {
        return { ok: response.ok, status: response.status, body: answer };
      });
    });
  }

  function problem(answer) {
    return (answer.body && (answer.body.message || answer.body.error)) || "HTTP " + answer.status;
  }

  // --- the API's messages beside form fields -----------------------------------------------
  // A field's message goes into the element whose id is the field's id + "-error"; only enabled
  // fields count, so a form may hold hidden alternatives (one fieldset per kind) with equal names.

  // webargs nests the messages of list items: {"include": {"0": ["..."]}}.
  function flatten(messages) {
    if (Array.isArray(messages)) return messages.map(flatten).join(" ");
    if (messages && typeof messages === "object") {
      return Object.keys(messages).map(function (key) { return flatten(messages[key]); }).join(" ");
    }
    return String(messages);
  }

  function fieldNamed(form, name) {
    return Array.from(form.elements).find(function (field) {
      return field.name === name && !field.matches(":disabled");
    });
  }

  function showFieldError(form, name, text) {
    const field = fieldNamed(form, name);
    const node = field && document.getElementById(field.id + "-error");
    if (!node) return false;
    node.textContent = text;
    node.hidden = false;
    if (field.dataset.describedby === undefined) {
      field.dataset.describedby = field.getAttribute("aria-describedby") || "";
    }
    field.setAttribute("aria-describedby", (field.dataset.describedby + " " + node.id).trim());
    field.setAttribute("aria-invalid", "true");
    const folded = field.closest("details");
    if (folded) folded.open = true;
    return true;
  }

  function clearFieldErrors(form) {
    form.querySelectorAll('.error[id$="-error"]').forEach(function (node) {
      node.hidden = true;
      node.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      if (field.dataset.describedby) field.setAttribute("aria-describedby", field.dataset.describedby);
      else field.removeAttribute("aria-describedby");
      delete field.dataset.describedby;
    });
  }

  // Shows a refused answer's messages beside their fields: `errors` by field name, nested
  // objects as dotted names ({"settings": {"port": [...]}} -> "settings.port"), else the field
  // the answer names (`field`, or aliases[error code], e.g. {"user_exists": "email"}). Focuses
  // the first marked field; returns what no field took, as one sentence ("" when none).
  function showFieldErrors(form, answer, aliases) {
    const body = answer.body || {};
    const others = [];
    function walk(errors, prefix) {
      Object.keys(errors).forEach(function (key) {
        const name = prefix + key;
        const value = errors[key];
        if (showFieldError(form, name, flatten(value))) return;
        if (value && typeof value === "object" && !Array.isArray(value)) walk(value, name + ".");
        else others.push(name + ": " + flatten(value));
      });
    }
    if (body.errors && typeof body.errors === "object") walk(body.errors, "");
    const named = body.field || (aliases || {})[body.error];
    if (!(body.errors && typeof body.errors === "object") &&
        !(named && showFieldError(form, named, body.message))) {
      others.push(problem(answer));
    }
    const invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    return others.join(" ");
  }

  // --- the live badge -----------------------------------------------------------------------
  // Connects to the /events namespace with the vendored Socket.IO client and keeps the badge
  // `badgeId` saying whether events arrive; returns the socket, or null without the client.
  function liveEvents(badgeId) {
    const badge = document.getElementById(badgeId);
    function show(text, className) {
      badge.textContent = text;
      badge.className = "badge " + className;
    }
    if (typeof window.io !== "function") {
      show("offline", "badge-danger");
      return null;
    }
    const socket = window.io("/events");
    socket.on("connect", function () { show("live", "badge-inc"); });
    socket.on("disconnect", function () { show("offline, reconnecting…", "badge-danger"); });
    socket.on("connect_error", function () { show("offline", "badge-danger"); });
    return socket;
  }

  return {
    el: el, size: size, percent: percent, timeOf: timeOf, tableRow: tableRow, call: call, problem: problem,
    flatten: flatten, showFieldError: showFieldError, showFieldErrors: showFieldErrors,
    clearFieldErrors: clearFieldErrors, liveEvents: liveEvents,
  };
})();
