// The officer dashboard's coverage-gap choropleth.
//
// <div id="gap-map" data-url=…> is filled with a Leaflet map of the kelurahan from the GeoJSON
// at data-url (portal.dashboard_views.gap_map_json), each coloured by its gap score relative to
// the highest one in view; a click shows the figures behind the score. Texts come translated
// from the element's data-text-* attributes, the tile server from the map-config script in
// base.html. Without JavaScript the ranked list on the page carries the same figures.
(function () {
  "use strict";

  // Light yellow (small gap) to deep red (large gap): ColorBrewer YlOrRd, 7 classes.
  var RAMP = ["#ffffcc", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026"];

  function config() {
    var node = document.getElementById("map-config");
    return node ? JSON.parse(node.textContent) : null;
  }

  // map-pin.js (loaded on every page) may already be fetching Leaflet: reuse its script.
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

  function colour(level) {
    var index = Math.min(RAMP.length - 1, Math.floor((level || 0) * RAMP.length));
    return RAMP[index];
  }

  function popup(text, props, numbers) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = props.name;
    box.appendChild(title);
    var rows = [
      [text.textRank, "#" + props.rank],
      [text.textScore, numbers.format(props.score)],
      [text.textRawan, props.rawan],
      [text.textCameras, props.cameras + " (" + props.working + ")"],
      [text.textDensity, numbers.format(props.per_km2)],
      [text.textRequests, props.requests],
      [text.textSupports, props.supports],
    ];
    rows.forEach(function (row) {
      var line = document.createElement("div");
      line.textContent = row[0] + ": " + row[1];
      box.appendChild(line);
    });
    return box;
  }

  function draw(cfg, holder, collection) {
    var text = holder.dataset;
    var numbers = new Intl.NumberFormat(document.documentElement.lang || undefined, {
      maximumFractionDigits: 2,
    });
    var map = window.L.map(holder, { scrollWheelZoom: false });
    window.L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.tileAttribution }).addTo(map);
    var layer = window.L.geoJSON(collection, {
      style: function (feature) {
        return {
          color: "#555",
          weight: 0.6,
          fillColor: colour(feature.properties.level),
          fillOpacity: 0.7,
        };
      },
      onEachFeature: function (feature, shape) {
        shape.bindPopup(popup(text, feature.properties, numbers));
        shape.bindTooltip(feature.properties.name, { sticky: true });
      },
    }).addTo(map);
    var bounds = layer.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [10, 10] }); }
    else { map.setView(cfg.center, 11); }
  }

  function start() {
    var holder = document.getElementById("gap-map");
    var cfg = config();
    if (!holder || !cfg) { return; }
    fetch(holder.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (collection) {
        withLeaflet(cfg, function () { draw(cfg, holder, collection); });
      })
      .catch(function () {
        var note = document.createElement("p");
        note.className = "muted";
        note.textContent = holder.dataset.textError;
        holder.appendChild(note);
      });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
