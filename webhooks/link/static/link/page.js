// The map of the one-time page: tap to place the pin, drag it, or use the phone's position.
// The latitude/longitude fields are the form's truth; the map only writes into them.
(function () {
  "use strict";
  var box = document.getElementById("map");
  var latInput = document.getElementById("lat");
  var lonInput = document.getElementById("lon");
  var status = document.getElementById("pin-status");
  if (!box || !window.L) {
    return; // no map: the typed coordinates and the photo still work
  }
  var data = box.dataset;
  var map = L.map(box).setView([parseFloat(data.lat), parseFloat(data.lon)], parseInt(data.zoom, 10));
  var failed = document.getElementById("tiles-failed");
  if (data.tiles) {
    var layer = L.tileLayer(data.tiles, { maxZoom: 19, attribution: data.attribution });
    var loaded = 0;
    layer.on("tileload", function () { loaded += 1; failed.hidden = true; });
    layer.on("tileerror", function () { if (!loaded) { failed.hidden = false; } });
    // A tile server that never answers gives no error: no tile after a while is a failure.
    window.setTimeout(function () { if (!loaded) { failed.hidden = false; } }, 8000);
    layer.addTo(map);
  } else {
    failed.hidden = false;
  }
  if (data.outline) {
    var outline = L.geoJSON(JSON.parse(data.outline), {
      style: { color: "#2a6ebb", weight: 2, fill: false, dashArray: "6 4" },
      interactive: false
    }).addTo(map);
    if (!data.knownLat) {
      map.fitBounds(outline.getBounds());
    }
  }
  if (data.knownLat) {
    L.circleMarker([parseFloat(data.knownLat), parseFloat(data.knownLon)], { radius: 8 }).addTo(map);
  }
  var marker = null;

  function place(lat, lon, pan) {
    if (marker === null) {
      marker = L.marker([lat, lon], { draggable: true, keyboard: true }).addTo(map);
      marker.on("dragend", function () {
        var where = marker.getLatLng();
        place(where.lat, where.lng, false);
      });
    } else {
      marker.setLatLng([lat, lon]);
    }
    latInput.value = lat.toFixed(6);
    lonInput.value = lon.toFixed(6);
    status.textContent = data.pinSet + " (" + lat.toFixed(5) + ", " + lon.toFixed(5) + ")";
    box.dataset.pinned = "yes";
    if (pan) {
      map.panTo([lat, lon]);
    }
  }

  map.on("click", function (event) { place(event.latlng.lat, event.latlng.lng, false); });

  // Typed coordinates move the pin once the typing pauses. Not on "change": that fires on
  // blur, while Send is being pressed, and moving the pin at that moment made Chromium
  // drop the press (the first tap on Send did nothing; tests/test_link_page.py).
  var typing = null;
  function typed() {
    var lat = parseFloat(latInput.value.replace(",", "."));
    var lon = parseFloat(lonInput.value.replace(",", "."));
    if (isFinite(lat) && isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      place(lat, lon, true);
    }
  }
  function later() {
    window.clearTimeout(typing);
    typing = window.setTimeout(typed, 400);
  }
  latInput.addEventListener("input", later);
  lonInput.addEventListener("input", later);

  var locate = document.getElementById("locate");
  if ("geolocation" in navigator) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = data.locating;
      navigator.geolocation.getCurrentPosition(
        function (position) {
          place(position.coords.latitude, position.coords.longitude, true);
          map.setZoom(18);
        },
        function () { status.textContent = data.noPosition; },
        { enableHighAccuracy: true, timeout: 15000 }
      );
    });
  }
})();
