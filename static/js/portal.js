// The portal's only script: the small-screen menu and the user's time zone from the
// browser on first sign-in. Pages work without it (the menu is then always open).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function menu() {
    var toggle = document.querySelector(".menu-toggle");
    var target = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    if (!toggle || !target) { return; }
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      target.classList.toggle("open", open);
    });
  }

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function timeZone() {
    var url = document.body.getAttribute("data-time-zone-url");
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (!url || !token || !window.Intl) { return; }
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) { return; }
    var body = new URLSearchParams({ time_zone: zone, csrfmiddlewaretoken: token.value });
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token.value || cookie("csrftoken") }
    }).then(function (response) {
      if (response.ok) { document.body.removeAttribute("data-time-zone-url"); }
    });
  }

  function printButtons() {
    document.querySelectorAll("[data-action=print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    menu();
    timeZone();
    printButtons();
  });
})();
