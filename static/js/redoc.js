// ReDoc over the app's own OpenAPI document; everything is served locally.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("redoc");
  window.Redoc.init(root.dataset.specUrl, { hideDownloadButton: false }, root);
});
