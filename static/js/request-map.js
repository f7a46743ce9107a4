// Residents' coverage requests: the duplicates lookup beside the pin, and small read-only maps.
//
// 1. On the request form, <div id="request-nearby" data-url=… data-lat-input=… data-lon-input=…>
//    lists the open requests around the pin each time it moves (static/js/map-pin.js moves it),
//    each with a "support this instead" link, and names the kelurahan under the pin. The texts
//    come translated from the page's data-text-* attributes.
// 2. <div class="request-map" data-points="ID" data-zoom="15"> draws the points of the JSON
//    script element ID ([{lat, lon, label, url}]) as circles: public locations are coarse.
// 3. <button data-locate-me> puts the pin at the phone's position (when the browser allows it).
// Without JavaScript the form still works; the lookup only helps.
(function () {
  "use strict";

  function config() {
    var node = document.getElementById("map-config");
    return node ? JSON.parse(node.textContent) : null;
  }

  // map-pin.js may already be loading Leaflet: wait for its script instead of adding another.
  function withLeaflet(cfg, done) {
    if (window.L) { done(); return; }
    var script = document.querySelector('script[src="' + cfg.leafletJs + '"]');
    if (script) { script.addEventListener("load", done); return; }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = cfg.leafletCss;
    document.head.appendChild(css);
    script = document.createElement("script");
    script.src = cfg.leafletJs;
    script.onload = done;
    document.head.appendChild(script);
  }

  // --- read-only maps -------------------------------------------------------------------------

  function drawMap(cfg, holder) {
    var source = document.getElementById(holder.dataset.points);
    var points = source ? JSON.parse(source.textContent) : [];
    var canvas = document.createElement("div");
    canvas.className = "map-pin-canvas";
    holder.appendChild(canvas);
    var map = window.L.map(canvas, { scrollWheelZoom: false });
    window.L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.tileAttribution }).addTo(map);
    var radius = parseInt(holder.dataset.radius || "0", 10);
    var bounds = [];
    points.forEach(function (point) {
      var where = [point.lat, point.lon];
      var shape = radius
        ? window.L.circle(where, { radius: radius })
        : window.L.circleMarker(where, { radius: 7 });
      if (point.label) {
        var label = document.createElement(point.url ? "a" : "span");
        label.textContent = point.label;
        if (point.url) { label.href = point.url; }
        shape.bindPopup(label);
      }
      shape.addTo(map);
      bounds.push(where);
    });
    if (bounds.length === 1) { map.setView(bounds[0], parseInt(holder.dataset.zoom || "15", 10)); }
    else if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 }); }
    else { map.setView(cfg.center, 11); }
  }

  // --- the duplicates lookup ------------------------------------------------------------------

  function nearby(holder) {
    var text = holder.dataset;
    var latInput = document.getElementById(text.latInput);
    var lonInput = document.getElementById(text.lonInput);
    if (!latInput || !lonInput) { return; }
    var list = holder.querySelector(".request-nearby-list");
    var status = holder.querySelector(".request-nearby-status");
    // map-pin.js adds the label only once Leaflet has loaded: look it up each time.
    function areaLabel() { return document.querySelector(".map-pin-area"); }
    var timer = null, asked = 0;

    function say(message, isError) {
      status.textContent = message;
      status.classList.toggle("error", !!isError);
    }

    function show(body) {
      list.innerHTML = "";
      var area = areaLabel();
      if (area) {
        area.textContent = [body.name, body.kecamatan && body.kecamatan.name, body.kota && body.kota.name]
          .filter(Boolean).join(", ");
        area.classList.remove("error");
      }
      if (!body.results.length) { say(text.textNone); return; }
      say(text.textSome);
      body.results.forEach(function (item) {
        var row = document.createElement("li");
        var link = document.createElement("a");
        link.href = item.url;
        link.textContent = item.reference;
        var facts = document.createElement("span");
        facts.textContent = " · " + (item.category_label || item.category) + " · " +
          (item.status_label || item.status) + " · " +
          text.textSupports.replace("{n}", item.supports_count) + " · " +
          text.textDistance.replace("{m}", Math.round(item.distance_m));
        var support = document.createElement("a");
        support.className = "button small secondary";
        support.href = item.support_url;
        support.textContent = text.textSupport;
        row.appendChild(link);
        row.appendChild(facts);
        row.appendChild(document.createTextNode(" "));
        row.appendChild(support);
        list.appendChild(row);
      });
    }

    function lookup() {
      var lat = parseFloat(latInput.value), lon = parseFloat(lonInput.value);
      if (isNaN(lat) || isNaN(lon)) { return; }
      var mine = ++asked;
      say(text.textLoading);
      var url = text.url + "?lat=" + encodeURIComponent(lat) + "&lon=" + encodeURIComponent(lon);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) { return [response.ok, body]; });
        })
        .then(function (result) {
          if (mine !== asked) { return; }  // the pin moved again meanwhile
          if (result[0]) { show(result[1]); return; }
          list.innerHTML = "";
          say(result[1].detail || text.textError, true);
          var area = areaLabel();
          if (area) { area.textContent = result[1].detail || ""; area.classList.add("error"); }
        })
        .catch(function () { if (mine === asked) { say(text.textError, true); } });
    }

    function soon() {
      clearTimeout(timer);
      timer = setTimeout(lookup, 300);  // map-pin.js writes lat, then lon: look once
    }

    // A click or drag on the map (map-pin.js) and a typed or located position ("change").
    document.addEventListener("map-pin:moved", soon);
    latInput.addEventListener("change", soon);
    lonInput.addEventListener("change", soon);
    if (latInput.value && lonInput.value) { soon(); }
  }

  function locateMe(button) {
    if (!navigator.geolocation) { button.hidden = true; return; }
    button.hidden = false;
    var latInput = document.getElementById(button.dataset.latInput);
    var lonInput = document.getElementById(button.dataset.lonInput);
    button.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (position) {
        latInput.value = position.coords.latitude.toFixed(6);
        lonInput.value = position.coords.longitude.toFixed(6);
        // map-pin.js moves its marker on "change".
        latInput.dispatchEvent(new Event("change"));
        lonInput.dispatchEvent(new Event("change"));
      }, function () { button.disabled = true; }, { enableHighAccuracy: true, timeout: 10000 });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#request-nearby").forEach(nearby);
    document.querySelectorAll("[data-locate-me]").forEach(locateMe);
    var maps = document.querySelectorAll(".request-map");
    var cfg = config();
    if (!maps.length || !cfg) { return; }
    withLeaflet(cfg, function () { maps.forEach(function (holder) { drawMap(cfg, holder); }); });
  });
})();
