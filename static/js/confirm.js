// Actions on a user's own data from their pages (issue 22): the API call behind a button, with a
// confirmation step in the page (a modal <dialog>, never window.confirm) where it destroys.
//
// window.syncappConfirm(message, actionLabel) resolves to true once the user confirmed, false on
// Cancel or Escape. Buttons need no script of their own: a button with data-api-url (and
// data-api-method, POST by default) calls the API; with data-confirm="<question>" it asks first
// (data-confirm-action names the confirming button, "Delete" by default). On success the
// button's row (data-removes: the closest element matching it, "tr" by default) is removed when
// the method is DELETE: an "api-done" event carrying the JSON answer bubbles from the button
// before the row goes, then "api-removed" from the row's former parent, for the page's script; a refusal is shown in the page's #action-result
// as an alert. The page's own text goes in with textContent only.
(function () {
  const { el, call, problem } = window.syncappFormat;
  let dialog = null;

  function build() {
    dialog = el("dialog", null, "confirm-dialog");
    dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
    dialog.setAttribute("aria-describedby", "confirm-dialog-message");
    const form = el("form");
    form.method = "dialog";
    const title = el("h2", "Are you sure?");
    title.id = "confirm-dialog-title";
    const message = el("p");
    message.id = "confirm-dialog-message";
    const cancel = el("button", "Cancel", "button plain");
    cancel.value = "cancel";
    const confirm = el("button", "Delete", "button danger");
    confirm.value = "confirm";
    confirm.dataset.confirmButton = "";
    const actions = el("p", null, "actions");
    actions.append(cancel, " ", confirm);
    form.append(title, message, actions);
    dialog.append(form);
    document.body.append(dialog);
  }

  function ask(message, actionLabel) {
    if (!dialog) build();
    dialog.querySelector("#confirm-dialog-message").textContent = message;
    dialog.querySelector("[data-confirm-button]").textContent = actionLabel || "Delete";
    dialog.returnValue = "";
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function () {
        resolve(dialog.returnValue === "confirm");
      }, { once: true });
      dialog.showModal();
      dialog.querySelector('button[value="cancel"]').focus(); // the safe choice first
    });
  }
  window.syncappConfirm = ask;

  function result(text, isError) {
    const node = document.getElementById("action-result");
    if (!node) return;
    node.textContent = text;
    node.setAttribute("role", isError ? "alert" : "status");
    node.className = "flash " + (isError ? "flash-error" : "flash-success");
    node.hidden = false;
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-api-url]");
    if (!button || button.disabled) return;
    const method = (button.dataset.apiMethod || "POST").toUpperCase();
    const asked = button.dataset.confirm
      ? ask(button.dataset.confirm, button.dataset.confirmAction)
      : Promise.resolve(true);
    asked.then(function (confirmed) {
      if (!confirmed) return;
      button.disabled = true;
      return call(method, button.dataset.apiUrl).then(function (answer) {
        button.disabled = false;
        if (!answer.ok) {
          result(problem(answer), true);
          return;
        }
        button.dispatchEvent(new CustomEvent("api-done", { bubbles: true, detail: answer.body }));
        if (button.dataset.done) result(button.dataset.done, false);
        const row = method === "DELETE" && button.closest(button.dataset.removes || "tr");
        if (row && row.parentNode) { // a live event may have removed it already
          const parent = row.parentNode;
          row.remove();
          parent.dispatchEvent(new CustomEvent("api-removed", { bubbles: true, detail: answer.body }));
        }
      }, function () {
        button.disabled = false;
        result("The server could not be reached.", true);
      });
    });
  });
})();
