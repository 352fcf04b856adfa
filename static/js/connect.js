// The "Connect a machine" page (templates/connect.html): makes an API token scoped to the chosen
// use through POST /api/v1/tokens, then fills the token, the machine's name and the folder into
// the lines the page holds (data-template). The token lives only in this page's DOM.
(function () {
  const root = document.getElementById("connect");
  if (!root) return;
  const { call, problem } = window.syncappFormat;
  const form = document.getElementById("connect-form");
  const status = document.getElementById("connect-form-status");
  const result = document.getElementById("connect-result");
  const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

  function kind() {
    return form.querySelector('input[name="kind"]:checked').value;
  }

  // Fields that only some kinds need (data-for="backups restic") are hidden for the others.
  function showFields() {
    form.querySelectorAll("[data-for]").forEach(function (node) {
      node.hidden = node.dataset.for.split(" ").indexOf(kind()) < 0;
    });
  }

  // A word for sh: as it is when plain, "~/" kept outside the quotes so that it still expands.
  function quote(text) {
    if (/^[A-Za-z0-9_@%+=:,.\/-]+$/.test(text)) return text;
    if (text === "~") return text;
    if (text.indexOf("~/") === 0) return "~/" + quote(text.slice(2));
    return "'" + text.replace(/'/g, "'\\''") + "'";
  }

  function fieldError(name, text) {
    const node = document.getElementById("connect-" + name + "-error");
    node.textContent = text || "";
    node.hidden = !text;
    document.getElementById("connect-" + name).setAttribute("aria-invalid", text ? "true" : "false");
  }

  function fill(values) {
    result.querySelectorAll("[data-template]").forEach(function (code) {
      code.textContent = code.dataset.template
        .replace(/@TOKEN@/g, values.token)
        .replace(/@NAME@/g, values.name)
        .replace(/@CRONFOLDER@/g, values.folder.replace(/%/g, "\\%")) // % ends a cron command
        .replace(/@FOLDER@/g, values.folder);
    });
    result.querySelectorAll("[data-kind]").forEach(function (part) {
      part.hidden = part.dataset.kind !== values.kind;
    });
  }

  form.querySelectorAll('input[name="kind"]').forEach(function (radio) {
    radio.addEventListener("change", showFields);
  });
  showFields();

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const chosen = kind();
    const name = form.elements.name.value.trim();
    const folder = form.elements.folder.value.trim();
    fieldError("name", NAME.test(name) ? "" :
      "Up to 64 letters, digits, “.”, “_” and “-”, starting with a letter or digit.");
    fieldError("folder", chosen === "cordiax" || folder ? "" : "Which folder should be saved?");
    if (!NAME.test(name) || (chosen !== "cordiax" && !folder)) {
      status.textContent = "Please correct the marked fields.";
      return;
    }
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    status.textContent = "Creating the token…";
    const body = { name: "connect: " + chosen + " on " + name, scopes: [chosen + ":" + name] };
    call("POST", form.dataset.createUrl, body)
      .then(function (answer) {
        if (!answer.ok) {
          status.textContent = problem(answer);
          return;
        }
        status.textContent = "Token created: the lines below are ready.";
        document.getElementById("connect-token-prefix").textContent = answer.body.prefix;
        document.getElementById("connect-token-name").textContent = answer.body.name;
        fill({ kind: chosen, token: answer.body.token, name: name, folder: quote(folder || "~") });
        result.hidden = false;
        result.focus();
      })
      .catch(function () { status.textContent = "Error: the connection failed."; })
      .finally(function () { submit.disabled = false; });
  });
})();
