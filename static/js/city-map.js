// The city map: every camera on an active site (clustered, coloured by health) and open requests.
//
// templates/portal/_city_map.html renders <div data-city-map data-layers="cameras,requests" …>
// with the endpoints, the vendored Leaflet.markercluster files and the translated texts as data
// attributes. The camera payload is packed (portal/map_selectors.py): delta-encoded ids and
// positions (degrees × scale) and one status character per camera. Every minute the map asks
// /map/status.json (a 304 when nothing changed) and recolours markers in place; when the set of
// cameras changed it reloads the cameras instead. Without JavaScript the legend still shows.
(function () {
  "use strict";
  if (window.cityMapLoaded) { return; }  // the include may appear twice on one page
  window.cityMapLoaded = true;

  var STATE_ORDER = ["up", "degraded", "down", "upstream_down", "maintenance", "unknown"];

  function config() {
    var node = document.getElementById("map-config");
    return node ? JSON.parse(node.textContent) : null;
  }

  function addCss(href) {
    if (document.querySelector('link[href="' + href + '"]')) { return; }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = href;
    document.head.appendChild(css);
  }

  // map-pin.js or request-map.js may already be loading a script: wait for it, don't add another.
  function addScript(src, ready, done) {
    if (ready()) { done(); return; }
    var script = document.querySelector('script[src="' + src + '"]');
    if (!script) {
      script = document.createElement("script");
      script.src = src;
      document.head.appendChild(script);
    }
    script.addEventListener("load", function () { if (ready()) { done(); } });
  }

  function withLibraries(cfg, holder, done) {
    addCss(cfg.leafletCss);
    addCss(holder.dataset.clusterCss);
    addCss(holder.dataset.clusterDefaultCss);
    addScript(cfg.leafletJs, function () { return !!window.L; }, function () {
      addScript(holder.dataset.clusterJs, function () {
        return !!(window.L && window.L.markerClusterGroup);
      }, done);
    });
  }

  function getJson(url) {
    // "no-cache": revalidate with the ETag every time; an unchanged payload costs a 304.
    return fetch(url, { credentials: "same-origin", cache: "no-cache", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      });
  }

  function undelta(values) {
    var out = new Array(values.length), sum = 0;
    for (var i = 0; i < values.length; i++) { sum += values[i]; out[i] = sum; }
    return out;
  }

  function CityMap(cfg, holder) {
    this.cfg = cfg;
    this.holder = holder;
    this.text = holder.dataset;
    this.layers = (holder.dataset.layers || "cameras,requests").split(",").map(function (s) { return s.trim(); });
    this.labels = {};
    this.categoryLabels = {};
    var self = this;
    holder.querySelectorAll("[data-state-label]").forEach(function (node) {
      self.labels[node.dataset.stateLabel] = node.textContent.trim();
    });
    holder.querySelectorAll("[data-category-label]").forEach(function (node) {
      self.categoryLabels[node.dataset.categoryLabel] = node.textContent.trim();
    });
    this.status = holder.querySelector(".city-map-status");
    this.cameras = null;   // {ids, status, set, host, partners, states}
    this.markers = [];
    this.requestsLoaded = false;
  }

  CityMap.prototype.say = function (message, isError) {
    if (!this.status) { return; }
    this.status.textContent = message;
    this.status.classList.toggle("error", !!isError);
  };

  CityMap.prototype.number = function (value) {
    return value.toLocaleString(document.documentElement.lang || undefined);
  };

  CityMap.prototype.start = function () {
    var L = window.L, self = this, cfg = this.cfg;
    var canvas = this.holder.querySelector(".city-map-canvas");
    this.map = L.map(canvas, { scrollWheelZoom: false }).setView(cfg.center, 11);
    L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.tileAttribution }).addTo(this.map);
    // Wheel zoom only once the map has been clicked: scrolling the page must not get stuck in it.
    this.map.once("focus click", function () { self.map.scrollWheelZoom.enable(); });

    this.icons = {};
    STATE_ORDER.forEach(function (state) {
      self.icons[state] = L.divIcon({
        className: "city-map-dot state-" + state, iconSize: [14, 14], iconAnchor: [7, 7],
      });
    });
    this.cameraLayer = L.markerClusterGroup({
      chunkedLoading: true,
      showCoverageOnHover: false,
      maxClusterRadius: 60,
      iconCreateFunction: function (cluster) { return self.clusterIcon(cluster); },
    });
    this.cameraLayer.on("click", function (event) { self.cameraPopup(event.layer); });
    this.requestLayer = L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: 50,
      iconCreateFunction: function (cluster) {
        var total = 0;
        cluster.getAllChildMarkers().forEach(function (marker) { total += marker.options.count; });
        return L.divIcon({
          html: "<span>" + self.number(total) + "</span>",
          className: "city-map-request-cluster", iconSize: [34, 34],
        });
      },
    });

    this.toggle("cameras", this.cameraLayer, function () { self.loadCameras(); });
    this.toggle("requests", this.requestLayer, function () { self.loadRequests(); });
    var refresh = parseInt(this.text.refresh || "60", 10) * 1000;
    if (this.layers.indexOf("cameras") !== -1 && refresh > 0) {
      setInterval(function () { if (!document.hidden && self.cameras) { self.refresh(); } }, refresh);
    }
  };

  // A layer's checkbox: shown only when the page asked for that layer; unticking hides it.
  CityMap.prototype.toggle = function (name, layer, load) {
    var box = this.holder.querySelector('[data-layer-toggle="' + name + '"]');
    var wanted = this.layers.indexOf(name) !== -1;
    var self = this;
    if (box) { box.closest("label").hidden = !wanted; }
    if (!wanted) { return; }
    function apply() {
      if (!box || box.checked) { self.map.addLayer(layer); load(); } else { self.map.removeLayer(layer); }
    }
    if (box) { box.addEventListener("change", apply); }
    apply();
  };

  CityMap.prototype.clusterIcon = function (cluster) {
    var counts = { up: 0, degraded: 0, down: 0, other: 0 };
    var children = cluster.getAllChildMarkers();
    for (var i = 0; i < children.length; i++) {
      var state = children[i].options.state;
      if (state === "up" || state === "degraded") { counts[state]++; }
      else if (state === "down" || state === "upstream_down") { counts.down++; }
      else { counts.other++; }
    }
    // A ring: green share up, amber degraded, red down, grey the rest.
    var total = children.length, a = counts.up / total * 100, b = a + counts.degraded / total * 100,
      c = b + counts.down / total * 100;
    var ring = "conic-gradient(var(--ok) 0 " + a + "%, var(--warn) " + a + "% " + b + "%, var(--bad) " +
      b + "% " + c + "%, #8a94a3 " + c + "% 100%)";
    var size = total < 100 ? 34 : total < 1000 ? 40 : 46;
    return window.L.divIcon({
      html: '<span style="background:' + ring + '"><b>' + this.number(total) + "</b></span>",
      className: "city-map-cluster" + (counts.down ? " has-down" : ""),
      iconSize: [size, size],
    });
  };

  CityMap.prototype.loadCameras = function () {
    if (this.cameras || this.loadingCameras) { return; }
    var self = this;
    this.loadingCameras = true;
    this.say(this.text.textLoading);
    getJson(this.text.camerasUrl)
      .then(function (payload) { self.showCameras(payload); })
      .catch(function () { self.say(self.text.textError, true); })
      .then(function () { self.loadingCameras = false; });
  };

  CityMap.prototype.showCameras = function (payload) {
    var L = window.L, states = payload.states, scale = payload.scale;
    var ids = undelta(payload.ids), lat = undelta(payload.lat), lon = undelta(payload.lon);
    var markers = new Array(ids.length);
    for (var i = 0; i < ids.length; i++) {
      var state = states[payload.status.charAt(i)] || "unknown";
      markers[i] = L.marker([lat[i] / scale, lon[i] / scale], {
        icon: this.icons[state], state: state, index: i, keyboard: false,
      });
    }
    this.cameraLayer.clearLayers();
    this.cameraLayer.addLayers(markers);
    this.markers = markers;
    this.cameras = {
      ids: ids, status: payload.status, set: payload.set, states: states,
      host: payload.host || null, partners: payload.partners || null,
    };
    this.updateLegend();
  };

  CityMap.prototype.cameraPopup = function (marker) {
    var i = marker.options.index, data = this.cameras;
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = this.text.textCamera.replace("{id}", data.ids[i]);
    box.appendChild(title);
    var state = document.createElement("div");
    state.textContent = this.labels[marker.options.state] || marker.options.state;
    box.appendChild(state);
    if (data.host) {
      var host = document.createElement("div");
      host.className = "muted";
      host.textContent = data.partners[data.host[i]];
      box.appendChild(host);
    }
    // The state may have changed since the last click: fresh content every time.
    if (marker.getPopup()) { marker.setPopupContent(box).openPopup(); }
    else { marker.bindPopup(box).openPopup(); }
  };

  CityMap.prototype.refresh = function () {
    var self = this;
    getJson(this.text.statusUrl)
      .then(function (payload) {
        if (payload.set !== self.cameras.set) {
          self.cameras = null;  // other cameras than ours: load them again
          self.loadCameras();
          return;
        }
        if (payload.status === self.cameras.status) { self.say(self.updatedText()); return; }
        var changed = [], states = self.cameras.states;
        for (var i = 0; i < self.markers.length; i++) {
          var code = payload.status.charAt(i);
          if (code !== self.cameras.status.charAt(i)) {
            var marker = self.markers[i], state = states[code] || "unknown";
            marker.options.state = state;
            marker.setIcon(self.icons[state]);
            changed.push(marker);
          }
        }
        self.cameras.status = payload.status;
        self.cameraLayer.refreshClusters(changed);
        self.updateLegend();
      })
      .catch(function () { self.say(self.text.textError, true); });
  };

  CityMap.prototype.updatedText = function () {
    var now = new Date();
    return this.text.textUpdated.replace("{time}", now.toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" }));
  };

  CityMap.prototype.updateLegend = function () {
    var counts = {}, status = this.cameras.status, states = this.cameras.states, self = this;
    for (var i = 0; i < status.length; i++) {
      var state = states[status.charAt(i)] || "unknown";
      counts[state] = (counts[state] || 0) + 1;
    }
    this.holder.querySelectorAll("[data-state-count]").forEach(function (node) {
      node.textContent = self.number(counts[node.dataset.stateCount] || 0);
    });
    var total = this.holder.querySelector("[data-camera-total]");
    if (total) { total.textContent = this.number(status.length); }
    this.say(this.updatedText());
  };

  CityMap.prototype.loadRequests = function () {
    if (this.requestsLoaded) { return; }
    this.requestsLoaded = true;
    var self = this, L = window.L;
    getJson(this.text.requestsUrl)
      .then(function (payload) {
        var scale = payload.scale, markers = [];
        payload.points.forEach(function (point) {
          var category = payload.categories[point[2]] || "other";
          var marker = L.marker([point[0] / scale, point[1] / scale], {
            icon: L.divIcon({ className: "city-map-request", iconSize: [16, 16], iconAnchor: [8, 8] }),
            count: point[3], keyboard: false,
          });
          marker.bindPopup(function () { return self.requestPopup(category, point); });
          markers.push(marker);
        });
        self.requestLayer.addLayers(markers);
      })
      .catch(function () { self.requestsLoaded = false; self.say(self.text.textError, true); });
  };

  CityMap.prototype.requestPopup = function (category, point) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = this.text.textRequests.replace("{n}", this.number(point[3]));
    box.appendChild(title);
    var what = document.createElement("div");
    what.textContent = (this.categoryLabels[category] || category) + " · " +
      this.text.textSupports.replace("{n}", this.number(point[4]));
    box.appendChild(what);
    if (point[5]) {
      var link = document.createElement("a");
      link.href = this.text.requestUrl.replace("REFERENCE", encodeURIComponent(point[5]));
      link.textContent = point[5];
      box.appendChild(link);
    }
    return box;
  };

  document.addEventListener("DOMContentLoaded", function () {
    var cfg = config();
    var holders = document.querySelectorAll("[data-city-map]");
    if (!cfg || !holders.length) { return; }
    holders.forEach(function (holder) {
      holder.classList.add("has-js");
      withLibraries(cfg, holder, function () { new CityMap(cfg, holder).start(); });
    });
  });
})();
