// /settings/nas, administrators: the NAS target set in the page (PUT /api/v1/sync/target), tested
// before it is saved (POST /api/v1/sync/target/test), or forgotten for config.yaml's (DELETE).
// The server stores it in the database and every NAS use reads it: no restart. After a save or
// a reset the page reloads to show the target in force and its state.
(function () {
  const section = document.getElementById("nas-target");
  if (!section) return;
  const { call, problem, showFieldErrors, clearFieldErrors } = window.syncappFormat;
  const form = document.getElementById("nas-target-form");
  const result = document.getElementById("nas-target-result");

  function body() {
    return {
      mount_path: form.elements.namedItem("mount_path").value.trim() || null,
      remote_name: form.elements.namedItem("remote_name").value || null,
      folder_names: form.elements.namedItem("folder_names").value,
    };
  }

  function say(text, isError) {
    result.textContent = text;
    result.setAttribute("role", isError ? "alert" : "status");
    result.className = isError ? "flash flash-error" : "flash flash-success";
  }

  function run(button, method, url, payload, then) {
    clearFieldErrors(form);
    button.disabled = true;
    say("Working…", false);
    call(method, url, payload)
      .then(function (answer) {
        if (!answer.ok) {
          showFieldErrors(form, answer);
          say(problem(answer), true);
          return;
        }
        then(answer.body);
      })
      .catch(function () { say("The server could not be reached.", true); })
      .finally(function () { button.disabled = false; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    run(button, "PUT", section.dataset.url, body(), function (saved) {
      say("Saved: documents go to this target from now on." +
        (saved.state.configured ? "" : " It is not usable yet: " + saved.state.message), false);
      window.location.reload();
    });
  });

  form.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-nas-target]");
    if (!button) return;
    if (button.dataset.nasTarget === "test") {
      run(button, "POST", section.dataset.testUrl, body(), function (tested) {
        say((tested.success ? "Reachable and writable: " : "Not usable: ") + tested.message,
          !tested.success);
      });
    } else if (button.dataset.nasTarget === "reset") {
      run(button, "DELETE", section.dataset.url, undefined, function () {
        window.location.reload();
      });
    }
  });
})();
