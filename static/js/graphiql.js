// GraphiQL at /graphql for signed-in users (templates/graphql/graphiql.html): the
// session's cookie authenticates, the CSRF token from the page goes with every POST.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var endpoint = root.getAttribute("data-endpoint");
  var csrfToken = root.getAttribute("data-csrf-token");

  function fetcher(body) {
    return fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken,
      },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json();
    });
  }

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true })
  );
})();
