// Formatting shared by the live pages (Cordiax, Sync jobs, Cloud files): nodes whose text comes
// from the server (textContent only, never HTML), sizes printed as Jinja's
// filesizeformat(binary=True) prints them in the server-rendered rows, UTC times from ISO 8601
// strings, table rows, and JSON calls to the API with the page's CSRF token.
window.syncappFormat = (function () {
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function size(bytes) {
    if (typeof bytes !== "number") return "";
    if (bytes === 1) return "1 Byte";
    if (bytes < 1024) return bytes + " Bytes";
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return value.toFixed(1) + " " + units[unit];
  }

  function timeOf(iso) {
    const node = el("time", (iso || "").replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC"));
    if (iso) node.dateTime = iso.replace(/\.\d+/, "");
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

  return { el: el, size: size, timeOf: timeOf, tableRow: tableRow, call: call, problem: problem };
})();
