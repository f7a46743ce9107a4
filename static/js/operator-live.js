// The operator view refreshes itself: every data-interval seconds it fetches data-url
// (/operator/live.json) and rewrites the totals, the kota table, the open upstream incidents, the
// latest status changes and the last sweep, without reloading the page. No framework: the page
// is server-rendered first, so without JavaScript it is simply a snapshot.
// Polling pauses while the tab is hidden and resumes (at once) when it is shown again; when the
// server does not answer, a notice says so and the next poll tries again.
(function () {
  "use strict";

  var root = document.getElementById("operator-live");
  if (!root || !window.fetch) { return; }
  var text = root.dataset;
  var lang = document.documentElement.lang || undefined;
  var numbers = new Intl.NumberFormat(lang);
  var decimals = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var when = new Intl.DateTimeFormat(lang, {
    dateStyle: "short", timeStyle: "short", timeZone: "Asia/Jakarta",
  });
  var clock = new Intl.DateTimeFormat(lang, {
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "Asia/Jakarta",
  });
  var interval = Math.max(5, parseInt(text.interval || "15", 10)) * 1000;
  var timer = null;
  var busy = false;

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined && content !== null) { node.textContent = content; }
    return node;
  }

  function time(iso, format) {
    var node = el("time", null, iso ? format.format(new Date(iso)) : "—");
    if (iso) { node.setAttribute("datetime", iso); }
    return node;
  }

  function badge(status, label) {
    return el("span", "badge health-" + status, label);
  }

  function renderTotals(body) {
    body.statuses.forEach(function (status) {
      var cell = root.querySelector('#live-totals dd[data-status="' + status.value + '"]');
      if (cell) { cell.textContent = numbers.format(body.totals[status.value] || 0); }
    });
    var heading = root.querySelector("#live-totals");
    if (heading) { heading.dataset.total = body.total; }
  }

  function renderKota(body) {
    var tbody = root.querySelector("#live-kota tbody");
    if (!tbody) { return; }
    tbody.replaceChildren.apply(tbody, body.by_kota.map(function (row) {
      var tr = el("tr");
      tr.dataset.kota = row.code;
      tr.appendChild(el("td", null, row.name));
      body.statuses.forEach(function (status) {
        tr.appendChild(el("td", "num", numbers.format(row.counts[status.value] || 0)));
      });
      tr.appendChild(el("td", "num", numbers.format(row.total)));
      return tr;
    }));
  }

  function renderIncidents(body) {
    var list = root.querySelector("#live-incidents");
    if (!list) { return; }
    if (!body.incidents.length) {
      list.replaceChildren(el("li", "muted", text.textNoneIncidents));
      return;
    }
    list.replaceChildren.apply(list, body.incidents.map(function (incident) {
      var item = el("li", null,
        incident.place + " · " + (incident.owner || "—") + " · " + text.textCameras + ": " +
        numbers.format(incident.cameras_affected) + " · " + text.textSince + " ");
      item.appendChild(time(incident.started_at, when));
      return item;
    }));
  }

  function renderChanges(body) {
    var tbody = root.querySelector("#live-changes tbody");
    if (!tbody) { return; }
    if (!body.changes.length) {
      var empty = el("tr");
      var cell = el("td", "muted", text.textNoneChanges);
      cell.colSpan = 5;
      empty.appendChild(cell);
      tbody.replaceChildren(empty);
      return;
    }
    var seen = {};
    tbody.querySelectorAll("tr[data-change]").forEach(function (row) { seen[row.dataset.change] = true; });
    tbody.replaceChildren.apply(tbody, body.changes.map(function (change) {
      var tr = el("tr", seen[change.id] ? null : "live-new");
      tr.dataset.change = change.id;
      var at = el("td");
      at.appendChild(time(change.at, when));
      tr.appendChild(at);
      var camera = el("td");
      var link = el("a", null, change.camera);
      link.href = text.cameraUrl.replace(/\/0\/$/, "/" + change.camera_id + "/");
      camera.appendChild(link);
      tr.appendChild(camera);
      tr.appendChild(el("td", null, change.owner));
      var now = el("td");
      now.appendChild(badge(change.new_status, change.new_label));
      tr.appendChild(now);
      tr.appendChild(el("td", null, change.reason || "—"));
      return tr;
    }));
  }

  function renderSweep(body) {
    var line = root.querySelector("#live-sweep");
    if (!line) { return; }
    var sweep = body.sweep;
    if (!sweep) { line.textContent = text.textNoSweep; return; }
    var started = time(sweep.started_at, when);
    started.dataset.field = "started";
    var duration = el("span", null, sweep.duration_seconds === null
      ? text.textRunning : decimals.format(sweep.duration_seconds) + " s");
    duration.dataset.field = "duration";
    line.replaceChildren(text.textLastSweep + ": ", started, ", ", duration);
  }

  function render(body) {
    renderTotals(body);
    renderKota(body);
    renderIncidents(body);
    renderChanges(body);
    renderSweep(body);
    var updated = document.getElementById("live-updated");
    if (updated) {
      updated.setAttribute("datetime", body.generated_at);
      updated.textContent = clock.format(new Date(body.generated_at));
    }
    var stale = document.getElementById("live-stale");
    if (stale) { stale.hidden = true; }
  }

  function failed() {
    var stale = document.getElementById("live-stale");
    if (stale) { stale.textContent = text.textStale; stale.hidden = false; }
  }

  function poll() {
    if (busy) { return; }
    busy = true;
    fetch(text.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(render)
      .catch(failed)
      .then(function () { busy = false; });
  }

  function schedule() {
    clearInterval(timer);
    timer = document.hidden ? null : setInterval(poll, interval);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { poll(); }
    schedule();
  });
  schedule();
})();
