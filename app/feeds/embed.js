// Records what the player saw and clicked: impressions once an item is on screen, clicks
// on its links. One POST per batch to the feed's events endpoint; never blocks the panel.
(function () {
  "use strict";
  var endpoint = document.body.getAttribute("data-events");
  function newId() {
    // crypto.randomUUID needs a secure context; getRandomValues works everywhere.
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }
  var clientId;
  try {
    clientId = localStorage.getItem("hearth-client-id");
    if (!clientId) {
      clientId = newId();
      localStorage.setItem("hearth-client-id", clientId);
    }
  } catch (e) {
    clientId = newId(); // storage refused: one id for this view
  }
  var queued = [];
  var timer = null;
  function flush() {
    timer = null;
    if (!queued.length) return;
    var events = queued.splice(0, 100);
    fetch(endpoint, {
      method: "POST",
      keepalive: true,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: events })
    }).catch(function () {});
    if (queued.length) flush();
  }
  function record(itemId, type, now) {
    queued.push({ item_id: itemId, type: type, client_id: clientId });
    if (now) flush();
    else if (!timer) timer = setTimeout(flush, 500);
  }
  var items = document.querySelectorAll("article[data-item]");
  var seen = {};
  function saw(article) {
    var id = article.getAttribute("data-item");
    if (!seen[id]) { seen[id] = true; record(id, "impression", false); }
  }
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { saw(entry.target); observer.unobserve(entry.target); }
      });
    }, { threshold: 0.5 });
    items.forEach(function (article) { observer.observe(article); });
  } else {
    items.forEach(saw);
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a");
    var article = link && link.closest("article[data-item]");
    if (article) record(article.getAttribute("data-item"), "click", true);
  });
  window.addEventListener("pagehide", flush);
})();
