// The public site's maps, enhancements of the pages (each works without them):
// - /reports: points come from /reports.geojson for the map's box, with the list's
//   filters; at most a few hundred, the newest, with a message when the box holds more;
// - a report's page: its public place, replacing the drawing made on the server.
// Both draw the town's outline and a legend, and say when the background cannot load
// (console/static/maps/maps.js).
(function () {
  "use strict";
  var COLOURS = { open: "#b3261e", fixed: "#1e6b35" };

  function baseMap(el) {
    el.hidden = false;
    var map = L.map(el, { scrollWheelZoom: false, keyboard: true });
    el.setAttribute("role", "region");
    el.setAttribute("aria-label", el.dataset.label);
    TownMap.background(map, {
      url: el.dataset.tileUrl, attribution: el.dataset.attribution, failed: el.dataset.failed
    });
    return map;
  }

  function dot(latlng, status) {
    return L.circleMarker(latlng, {
      radius: 7, weight: 2, color: "#1d3b6e", fillColor: COLOURS[status] || COLOURS.open, fillOpacity: 0.9
    });
  }

  function legend(map, el, statuses) {
    var items = statuses.map(function (s) {
      return { label: el.dataset["legend" + s.charAt(0).toUpperCase() + s.slice(1)], colour: COLOURS[s] };
    });
    items.push({ label: el.dataset.legendOutline, line: true });
    TownMap.legend(map, el.dataset.legendTitle, items);
  }

  function reportsMap(el) {
    var map = baseMap(el);
    var status = document.getElementById("map-status");
    // The map opens on the town's middle, then on its whole outline once drawn.
    TownMap.outline(map, el.dataset.outline, function (outline) {
      map.fitBounds(outline.getBounds(), { animate: false });
    });
    legend(map, el, ["open", "fixed"]);
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
          var marker = dot([c[1], c[0]], f.properties.status);
          var link = document.createElement("a");
          link.href = f.properties.url;
          link.textContent = f.properties.ref + " " + f.properties.category;
          marker.bindPopup(link);
          marker.addTo(layer);
        });
        el.dataset.loaded = String(data.features.length);
        status.textContent = data.truncated
          ? el.dataset.more.replace("{shown}", data.features.length).replace("{total}", data.more ? data.total + "+" : data.total)
          : "";
      }).catch(function () { status.textContent = ""; });
    }

    map.on("moveend", function () { clearTimeout(timer); timer = setTimeout(load, 200); });
    var center = (el.dataset.center || "48.1246,-1.2082,13").split(",").map(Number);
    map.setView([center[0], center[1]], center[2]);
  }

  function placeMap(el) {
    var at = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
    var map = baseMap(el);
    map.setView(at, 15);
    TownMap.outline(map, el.dataset.outline);
    TownMap.whenBare(map, function (outline) {
      map.fitBounds(outline.getBounds().extend(at), { animate: false });
    });
    dot(at, el.dataset.status).addTo(map);
    legend(map, el, [el.dataset.status]);
    // The drawing made on the server gives way to the map.
    var drawing = document.getElementById("place-drawing");
    if (drawing) { drawing.style.display = "none"; }
  }

  if (!window.L || !window.TownMap) { return; }
  var list = document.getElementById("map");
  if (list) { reportsMap(list); }
  var place = document.getElementById("place-map");
  if (place) { placeMap(place); }
}());
