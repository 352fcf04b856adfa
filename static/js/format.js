// Formatting shared by the live pages (Cordiax, Sync jobs): nodes whose text comes from the
// server (textContent only, never HTML), sizes printed as Jinja's filesizeformat(binary=True)
// prints them in the server-rendered rows, and UTC times from ISO 8601 strings.
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

  return { el: el, size: size, timeOf: timeOf };
})();
