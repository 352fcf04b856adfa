// Swagger UI over the app's own OpenAPI document; everything is served locally.
// The reader is signed in: "Try it out" calls go with the session's cookie and the page's CSRF
// token (as the other pages' calls do), so nobody pastes a token into the page. Sections start
// folded (a table of contents of the API's tags) and the schema models are left out: the page
// is a few screens tall instead of 14,000 px.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    docExpansion: "none",
    defaultModelsExpandDepth: -1,
    filter: true,
    requestInterceptor: (request) => {
      request.credentials = "same-origin";
      request.headers["X-CSRFToken"] = csrf;
      return request;
    },
  });
});
