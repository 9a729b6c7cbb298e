// The map of /reports: an enhancement of the list (the page works without it). Points come
// from /reports.geojson for the map's box, with the list's filters; at most a few hundred,
// the newest, with a message when the box holds more.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) { return; }
  el.hidden = false;
  var status = document.getElementById("map-status");
  var map = L.map(el, { scrollWheelZoom: false, keyboard: true });
  el.setAttribute("role", "region");
  el.setAttribute("aria-label", el.dataset.label);
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
  } else {
    el.classList.add("no-tiles");
  }
  var layer = L.layerGroup().addTo(map);
  var source = el.dataset.geojson;
  var timer = null;

  function load() {
    var b = map.getBounds();
    var box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return Math.max(-180, Math.min(180, v)).toFixed(5);
    });
    var url = source + (source.indexOf("?") >= 0 ? "&" : "?") + "bbox=" + box.join(",");
    fetch(url).then(function (r) { return r.json(); }).then(function (data) {
      layer.clearLayers();
      data.features.forEach(function (f) {
        var c = f.geometry.coordinates;
        var marker = L.circleMarker([c[1], c[0]], {
          radius: 7, weight: 2, color: "#1d3b6e",
          fillColor: f.properties.status === "open" ? "#b3261e" : "#1e6b35", fillOpacity: 0.9
        });
        var link = document.createElement("a");
        link.href = f.properties.url;
        link.textContent = f.properties.ref + " " + f.properties.category;
        marker.bindPopup(link);
        marker.addTo(layer);
      });
      status.textContent = data.truncated
        ? el.dataset.more.replace("{shown}", data.features.length).replace("{total}", data.more ? data.total + "+" : data.total)
        : "";
    }).catch(function () { status.textContent = ""; });
  }

  map.on("moveend", function () { clearTimeout(timer); timer = setTimeout(load, 200); });
  var center = (el.dataset.center || "48.1246,-1.2082,13").split(",").map(Number);
  map.setView([center[0], center[1]], center[2]);
}());
