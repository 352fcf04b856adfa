// The settings pages (templates/settings/). Forms marked data-api-form create through the API
// (POST data-create-url) and edit through it (PATCH the row's data-edit-url, filled from the row's
// data-item), with the API's messages beside the fields; row buttons with data-action call the
// API, asking first when they carry data-confirm, then reload with data-done as the message;
// data-probe buttons ("Test") show the API's {success, message}. A new API token is shown once,
// here and nowhere else. Everything the server sends is shown with textContent, never as HTML.
(function () {
  const root = document.getElementById("settings");
  if (!root) return;
  const { el, timeOf, tableRow, call, problem, showFieldError, showFieldErrors, clearFieldErrors } =
    window.syncappFormat;
  const message = document.getElementById("settings-message");
  const FLASH = "syncapp.settings.message";

  function say(node, text, tone) {
    node.textContent = text;
    node.className = (node.className.replace(/\b(ok|error)\b/g, "") + " " + (tone || "")).trim();
  }

  // A change is announced after the reload that brings the page's rows up to date.
  function reloadSaying(text) {
    window.sessionStorage.setItem(FLASH, text);
    window.location.reload();
  }
  const announced = window.sessionStorage.getItem(FLASH);
  if (announced) {
    window.sessionStorage.removeItem(FLASH);
    say(message, announced, "ok");
  }

  function failed(node) {
    return function () { say(node, "Error: the connection failed.", "error"); };
  }

  // --- row buttons -------------------------------------------------------------------------

  function act(button) {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
    button.disabled = true;
    call(button.dataset.action, button.dataset.url, body)
      .then(function (answer) {
        if (!answer.ok) {
          say(message, problem(answer), "error");
          return;
        }
        // "Poll now" answers with the poller: say how the poll went.
        const outcome = answer.body && (answer.body.last_error || answer.body.last_result);
        reloadSaying(button.dataset.done + (outcome ? " " + outcome : ""));
      })
      .catch(failed(message))
      .finally(function () { button.disabled = false; });
  }

  function probe(button) {
    const result = document.getElementById(button.dataset.target);
    button.disabled = true;
    say(result, "Testing…");
    call("POST", button.dataset.probe)
      .then(function (answer) {
        const body = answer.body || {};
        if (answer.ok && typeof body.success === "boolean") {
          say(result, (body.success ? "OK: " : "Failed: ") + body.message, body.success ? "ok" : "error");
        } else {
          say(result, problem(answer), "error");
        }
      })
      .catch(failed(result))
      .finally(function () { button.disabled = false; });
  }

  function copy(button) {
    const input = document.getElementById(button.dataset.copy);
    const status = document.getElementById(input.id + "-status");
    input.select();
    const copied = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(input.value)
      : Promise.reject(new Error("no clipboard"));
    copied
      .then(function () { say(status, "Copied to the clipboard.", "ok"); })
      .catch(function () { say(status, "Press Ctrl+C (⌘C) to copy the selected token."); });
  }

  root.addEventListener("click", function (event) {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.action) act(button);
    else if (button.dataset.probe) probe(button);
    else if (button.dataset.editUrl) startEditing(button);
    else if (button.dataset.copy) copy(button);
  });

  // --- forms -------------------------------------------------------------------------------

  const editing = new WeakMap(); // form -> the URL of the item being edited

  function controls(form) {
    return Array.from(form.elements).filter(function (field) {
      return field.name && !field.matches(":disabled");
    });
  }

  // A form may hold one fieldset per choice of a select[data-switch] (the settings of each kind
  // of stored remote): only the chosen one is shown and sent.
  function applySwitches(form) {
    form.querySelectorAll("select[data-switch]").forEach(function (select) {
      form.querySelectorAll("[data-" + select.dataset.switch + "]").forEach(function (part) {
        if (part === select) return;
        const chosen = part.dataset[select.dataset.switch] === select.value;
        part.hidden = !chosen;
        if (part.tagName === "FIELDSET") part.disabled = !chosen;
      });
    });
  }

  function setMode(form, url) {
    if (url) editing.set(form, url);
    else editing.delete(form);
    const heading = document.getElementById(form.getAttribute("aria-labelledby"));
    const submit = form.querySelector('button[type="submit"]');
    if (heading.dataset.create) heading.textContent = url ? heading.dataset.edit : heading.dataset.create;
    submit.textContent = url ? submit.dataset.edit : submit.dataset.create;
    form.querySelector("[data-cancel]").hidden = !url;
    form.querySelectorAll("[data-create-only]").forEach(function (field) { field.disabled = !!url; });
    form.querySelectorAll("[data-edit-only]").forEach(function (field) {
      field.disabled = !url;
      field.closest(".field").hidden = !url;
    });
    form.querySelectorAll("[data-edit-placeholder]").forEach(function (field) {
      field.placeholder = url ? field.dataset.editPlaceholder : "";
    });
  }

  function lookup(item, dotted) {
    return dotted.split(".").reduce(function (value, key) {
      return value === undefined || value === null ? undefined : value[key];
    }, item);
  }

  function fill(form, item) {
    form.querySelectorAll("select[data-switch]").forEach(function (select) {
      if (item[select.name] !== undefined) select.value = String(item[select.name]);
    });
    applySwitches(form);
    // Every field, also those disabled in the current mode: setMode() runs after this.
    Array.from(form.elements).filter(function (field) { return field.name; }).forEach(function (field) {
      const value = lookup(item, field.name);
      if (field.type === "checkbox") field.checked = value === undefined ? field.defaultChecked : !!value;
      else if (field.type === "password") field.value = "";
      else field.value = value === undefined || value === null ? "" : String(value);
    });
  }

  function startEditing(button) {
    const form = document.getElementById(button.dataset.form);
    form.reset();
    clearFieldErrors(form);
    say(document.getElementById(form.id + "-status"), "");
    fill(form, JSON.parse(button.dataset.item));
    setMode(form, button.dataset.editUrl);
    form.scrollIntoView({ block: "start" });
    const first = controls(form).find(function (field) { return field.type !== "hidden"; });
    if (first) first.focus();
  }

  function setPath(values, dotted, value) {
    const keys = dotted.split(".");
    const last = keys.pop();
    keys.reduce(function (node, key) { return (node[key] = node[key] || {}); }, values)[last] = value;
  }

  // The API decides what is valid; the form only gives each value its JSON type. Left out:
  // empty passwords (keep the stored one), empty numbers and fields marked data-optional.
  function formValues(form) {
    const values = {};
    controls(form).forEach(function (field) {
      if (field.type === "checkbox") {
        setPath(values, field.name, field.checked);
        return;
      }
      const text = field.type === "password" ? field.value : field.value.trim();
      const empty = text === "";
      if (empty && (field.type === "password" || field.dataset.type || "optional" in field.dataset)) {
        return;
      }
      setPath(values, field.name, field.dataset.type ? Number(text) : text);
    });
    return values;
  }

  function submitForm(form) {
    const status = document.getElementById(form.id + "-status");
    const submit = form.querySelector('button[type="submit"]');
    clearFieldErrors(form);
    const unreadable = controls(form).filter(function (field) { return field.validity.badInput; });
    if (unreadable.length) {
      unreadable.forEach(function (field) { showFieldError(form, field.name, "Enter a number."); });
      say(status, "Please correct the marked fields.", "error");
      return;
    }
    const url = editing.get(form);
    submit.disabled = true;
    say(status, "Saving…");
    call(url ? "PATCH" : "POST", url || form.dataset.createUrl, formValues(form))
      .then(function (answer) {
        if (!answer.ok) {
          const aliases = form.dataset.aliases ? JSON.parse(form.dataset.aliases) : {};
          say(status, showFieldErrors(form, answer, aliases) || "Please correct the marked fields.",
            "error");
        } else if (form.id === "token-form") {
          say(status, "");
          form.reset();
          showNewToken(answer.body);
        } else {
          reloadSaying(form.dataset.saved);
        }
      })
      .catch(failed(status))
      .finally(function () { submit.disabled = false; });
  }

  document.querySelectorAll("form[data-api-form]").forEach(function (form) {
    form.noValidate = true; // the API is the one judge; its messages go beside the fields
    setMode(form, null);
    applySwitches(form);
    form.querySelectorAll("select[data-switch]").forEach(function (select) {
      select.addEventListener("change", function () { applySwitches(form); });
    });
    form.querySelector("[data-cancel]").addEventListener("click", function () {
      form.reset();
      clearFieldErrors(form);
      say(document.getElementById(form.id + "-status"), "");
      setMode(form, null);
      applySwitches(form);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submitForm(form);
    });
  });

  // --- a new API token: shown once ------------------------------------------------------------

  function showNewToken(token) {
    const panel = document.getElementById("token-created");
    panel.querySelector("[data-token-name]").textContent = token.name;
    const value = document.getElementById("token-value");
    value.value = token.token;
    say(document.getElementById("token-value-status"), "");
    panel.hidden = false;
    panel.focus();
    value.select();

    const rows = document.getElementById("token-rows");
    const empty = rows.querySelector("[data-empty]");
    if (empty) empty.remove();
    const revoke = el("button", "Revoke", "button small danger");
    revoke.type = "button";
    revoke.dataset.action = "DELETE";
    revoke.dataset.url = rows.dataset.revoke.replace(/0$/, String(token.id));
    revoke.dataset.done = "Token \u201c" + token.name + "\u201d revoked.";
    revoke.dataset.confirm = "Revoke the token \u201c" + token.name +
      "\u201d? Scripts and clients using it stop working at once.";
    const actions = el("div", null, "actions");
    actions.appendChild(revoke);
    const row = tableRow([el("strong", token.name), el("code", token.prefix + "\u2026"),
      timeOf(token.created_at), "never", token.expires_at ? timeOf(token.expires_at) : "never",
      el("span", "active", "badge badge-inc"), actions]);
    const headings = rows.closest("table").tHead.rows[0].cells;
    Array.from(row.cells).forEach(function (cell, i) { cell.dataset.label = headings[i].textContent; });
    rows.prepend(row);
  }
})();
