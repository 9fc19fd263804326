// Gatehouse portal docs: turns the code samples into tabs, fills in a key just issued, and sends
// try-it forms with fetch. Everything works without it (samples all shown, forms post normally).
(function () {
  "use strict";
  var PLACEHOLDER = "YOUR_API_KEY";
  var LANG_KEY = "gatehouse.sampleLang";

  function store(kind) {
    try { return window[kind]; } catch (e) { return null; }
  }

  // Tabs: one tablist per sample group; arrow keys move between tabs; the choice is remembered.
  function tabs(group) {
    var samples = Array.prototype.slice.call(group.querySelectorAll(".docs-sample"));
    if (samples.length < 2) return;
    var list = document.createElement("div");
    list.className = "docs-tablist";
    list.setAttribute("role", "tablist");
    var buttons = samples.map(function (fig, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "docs-tab";
      b.setAttribute("role", "tab");
      b.textContent = fig.querySelector("figcaption").textContent;
      b.dataset.lang = fig.dataset.lang;
      fig.setAttribute("role", "tabpanel");
      fig.id = fig.id || "docs-sample-" + Math.random().toString(36).slice(2);
      b.setAttribute("aria-controls", fig.id);
      b.addEventListener("click", function () { select(fig.dataset.lang, true); });
      b.addEventListener("keydown", function (e) {
        var d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (!d) return;
        e.preventDefault();
        var next = buttons[(i + d + buttons.length) % buttons.length];
        select(next.dataset.lang, true);
        next.focus();
      });
      list.appendChild(b);
      return b;
    });
    group.insertBefore(list, group.firstChild);
    group.classList.add("docs-tabbed");
    group.docsSelect = function (lang) {
      var found = samples.some(function (f) { return f.dataset.lang === lang; });
      if (!found) lang = samples[0].dataset.lang;
      samples.forEach(function (f, i) {
        var on = f.dataset.lang === lang;
        f.hidden = !on;
        buttons[i].setAttribute("aria-selected", on ? "true" : "false");
        buttons[i].tabIndex = on ? 0 : -1;
      });
    };
  }

  function select(lang, remember) {
    var ls = store("localStorage");
    if (remember && ls) ls.setItem(LANG_KEY, lang);
    document.querySelectorAll(".docs-tabbed").forEach(function (g) { g.docsSelect(lang); });
  }

  // A key issued a moment ago (the apps page puts it in sessionStorage) replaces the placeholder.
  function fillKey() {
    var ss = store("sessionStorage");
    var key = ss && ss.getItem("gatehouse.newKey");
    if (!key) return;
    document.querySelectorAll(".docs-sample code").forEach(function (c) {
      if (c.textContent.indexOf(PLACEHOLDER) >= 0) c.textContent = c.textContent.split(PLACEHOLDER).join(key);
    });
    document.querySelectorAll(".try-form textarea, .try-form input").forEach(function (f) {
      if (f.value.indexOf(PLACEHOLDER) >= 0) f.value = f.value.split(PLACEHOLDER).join(key);
    });
  }

  function show(form, status, elapsed, headers, body) {
    var box = document.getElementById("try-result");
    if (!box) return;
    form.parentNode.insertBefore(box, form.nextSibling);
    box.hidden = false;
    document.getElementById("try-status").textContent = status;
    document.getElementById("try-elapsed").textContent = elapsed;
    document.getElementById("try-headers").textContent = headers;
    document.getElementById("try-body").textContent = body;
  }

  function pretty(body) {
    try { return JSON.stringify(JSON.parse(body), null, 2); } catch (e) { return body; }
  }

  function send(e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains("try-form") || !window.fetch) return;
    e.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    show(form, "sending\u2026", "", "", "");
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        var j = res.j;
        if (!res.ok || typeof j.status !== "number" || !Array.isArray(j.headers)) {
          show(form, "not sent", "", "", (j && (j.detail || j.title)) || "the portal refused the request");
          return;
        }
        var head = j.headers.map(function (h) { return h[0] + ": " + h[1]; }).join("\n");
        show(form, String(j.status), j.elapsed_ms + " ms", head, pretty(j.body));
      })
      .catch(function (err) { show(form, "not sent", "", "", String(err)); })
      .then(function () { if (button) button.disabled = false; });
  }

  function start() {
    document.querySelectorAll("[data-docs-tabs]").forEach(tabs);
    var ls = store("localStorage");
    select((ls && ls.getItem(LANG_KEY)) || "curl", false);
    fillKey();
    document.addEventListener("submit", send);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
