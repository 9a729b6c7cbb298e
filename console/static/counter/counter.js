/* The counter's map (console/templates/console/counter.html): a click places (or moves) the pin and
   fills the latitude and longitude fields, which the form sends. Without this script the
   fields are typed, or the place is typed as an address. */
(function () {
  "use strict";

  function start() {
    var el = document.getElementById("counter-map");
    var lat = document.getElementById("lat");
    var lon = document.getElementById("lon");
    if (!el || !lat || !lon || typeof L === "undefined") { return; }
    el.hidden = false;
    var center = JSON.parse(el.dataset.center);
    var map = L.map(el, { scrollWheelZoom: false });
    var page = document.body.dataset;
    TownMap.background(map, { url: page.tileUrl, attribution: page.tileAttribution, failed: page.tilesFailed });
    map.setView([center[0], center[1]], center[2] || 13);
    TownMap.outline(map, page.outline);
    var marker = null;
    function place(latlng) {
      if (marker) { marker.setLatLng(latlng); } else {
        marker = L.circleMarker(latlng, {
          radius: 8, weight: 2, color: "#fff", fillColor: "#d9480f", fillOpacity: 0.9
        }).addTo(map);
      }
      fill(latlng);
    }
    function fill(latlng) {
      lat.value = latlng.lat.toFixed(6);
      lon.value = latlng.lng.toFixed(6);
    }
    var known = [parseFloat(lat.value), parseFloat(lon.value)];
    if (!isNaN(known[0]) && !isNaN(known[1])) {
      place(L.latLng(known[0], known[1]));
      map.setView(known, 17);
    }
    map.on("click", function (event) { place(event.latlng); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
