// Pin a point on a map and write it into a form's latitude/longitude inputs.
//
// Any page can ask for a map with
//   <div id="map-pin" data-lat-input="id_lat" data-lon-input="id_lon"></div>
// Leaflet (vendored under static/vendor/leaflet) is loaded only on such pages. Without
// JavaScript, or when the tiles cannot be reached, the plain inputs still work.
(function () {
  "use strict";

  function loadLeaflet(config, done) {
    if (window.L) { done(); return; }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = config.leafletCss;
    document.head.appendChild(css);
    var script = document.createElement("script");
    script.src = config.leafletJs;
    script.onload = done;
    document.head.appendChild(script);
  }

  function showKelurahan(config, holder, lat, lon) {
    var label = holder.querySelector(".map-pin-area");
    if (!config.locateUrl || !label) { return; }
    var url = config.locateUrl + "?lat=" + encodeURIComponent(lat) + "&lon=" + encodeURIComponent(lon);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
      .then(function (result) {
        var ok = result[0], body = result[1];
        label.textContent = ok ? [body.name, body.kecamatan && body.kecamatan.name, body.kota && body.kota.name]
          .filter(Boolean).join(", ") : (body.detail || "");
        label.classList.toggle("error", !ok);
      })
      .catch(function () { label.textContent = ""; });
  }

  function attach(config, holder) {
    var latInput = document.getElementById(holder.dataset.latInput);
    var lonInput = document.getElementById(holder.dataset.lonInput);
    if (!latInput || !lonInput) { return; }
    var canvas = document.createElement("div");
    canvas.className = "map-pin-canvas";
    var label = document.createElement("p");
    label.className = "map-pin-area";
    label.setAttribute("aria-live", "polite");
    holder.appendChild(canvas);
    holder.appendChild(label);

    var start = [parseFloat(latInput.value), parseFloat(lonInput.value)];
    var hasPoint = !isNaN(start[0]) && !isNaN(start[1]);
    var map = window.L.map(canvas).setView(hasPoint ? start : config.center, hasPoint ? 16 : 11);
    window.L.tileLayer(config.tileUrl, { maxZoom: 19, attribution: config.tileAttribution }).addTo(map);
    window.L.Icon.Default.imagePath = config.leafletCss.replace(/leaflet\.css$/, "images/");
    var marker = null;

    function place(lat, lon) {
      if (marker) { marker.setLatLng([lat, lon]); }
      else {
        marker = window.L.marker([lat, lon], { draggable: true }).addTo(map);
        marker.on("dragend", function () {
          var point = marker.getLatLng();
          update(point.lat, point.lng);
        });
      }
    }
    function update(lat, lon) {
      latInput.value = lat.toFixed(6);
      lonInput.value = lon.toFixed(6);
      place(lat, lon);
      showKelurahan(config, holder, latInput.value, lonInput.value);
      // Other scripts on the page (the nearby-requests lookup) follow the pin through this.
      holder.dispatchEvent(new CustomEvent("map-pin:moved", { bubbles: true, detail: { lat: lat, lon: lon } }));
    }

    if (hasPoint) { place(start[0], start[1]); showKelurahan(config, holder, start[0], start[1]); }
    map.on("click", function (event) { update(event.latlng.lat, event.latlng.lng); });
    [latInput, lonInput].forEach(function (input) {
      input.addEventListener("change", function () {
        var lat = parseFloat(latInput.value), lon = parseFloat(lonInput.value);
        if (!isNaN(lat) && !isNaN(lon)) { place(lat, lon); map.setView([lat, lon], 16); showKelurahan(config, holder, lat, lon); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holders = document.querySelectorAll("#map-pin, .map-pin");
    var configNode = document.getElementById("map-config");
    if (!holders.length || !configNode) { return; }
    var config = JSON.parse(configNode.textContent);
    loadLeaflet(config, function () { holders.forEach(function (holder) { attach(config, holder); }); });
  });
})();
