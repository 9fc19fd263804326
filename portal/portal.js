// Gatehouse developer portal: progressive enhancement only; every page works without it.
// A key shown right after it was issued is kept in sessionStorage (this tab only) and filled
// into the YOUR_API_KEY placeholder of code samples and try-it forms; a revoked key is
// forgotten.
(function () {
  "use strict";
  var PLACEHOLDER = "YOUR_API_KEY";
  var STORE = "gatehouse.newKey"; // the docs script (docs.js) reads the same item
  function stored() { try { return sessionStorage.getItem(STORE); } catch (e) { return null; } }
  function keep(k) { try { sessionStorage.setItem(STORE, k); } catch (e) { /* private mode */ } }
  function forget() { try { sessionStorage.removeItem(STORE); } catch (e) { /* private mode */ } }

  function fill(key) {
    var fields = document.querySelectorAll("textarea, input[type=text], input:not([type])");
    Array.prototype.forEach.call(fields, function (el) {
      if (el.value.indexOf(PLACEHOLDER) >= 0) { el.value = el.value.split(PLACEHOLDER).join(key); }
    });
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, null);
    var node;
    while ((node = walker.nextNode())) {
      var p = node.parentNode;
      if (p && (p.closest("code, pre")) && node.nodeValue.indexOf(PLACEHOLDER) >= 0) {
        node.nodeValue = node.nodeValue.split(PLACEHOLDER).join(key);
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var issued = document.getElementById("issued-key");
    if (issued && issued.dataset.key) { keep(issued.dataset.key); }
    var revoked = document.getElementById("revoked-key");
    var key = stored();
    if (revoked && key && key.indexOf(revoked.dataset.prefix) === 0) { forget(); key = null; }
    if (key) { fill(key); }
  });
})();
