/* What every map shares (console, public site, simulator): the background from the
   configured tile server, a notice when it cannot load, the town's outline, a legend.
   A map without tiles (no network, the tile server down) still shows the outline and the
   reports, and says plainly that the background is missing. Needs the vendored Leaflet. */
(function () {
  "use strict";

  // A background that has not drawn one tile by then is called unavailable.
  var TILES_TIMEOUT_MS = 8000;
  var OUTLINE_STYLE = {
    color: "#1d3b6e", weight: 2, dashArray: "6 4", fill: true, fillColor: "#1d3b6e",
    fillOpacity: 0.04, interactive: false
  };

  function escapeHTML(text) {
    var span = document.createElement("span");
    span.textContent = text || "";
    return span.innerHTML;
  }

  function control(map, position, className) {
    var Box = L.Control.extend({
      onAdd: function () {
        var el = L.DomUtil.create("div", className);
        L.DomEvent.disableClickPropagation(el);
        return el;
      }
    });
    var box = new Box({ position: position });
    box.addTo(map);
    return box.getContainer();
  }

  /* The tiles of `options.url` ({z}/{x}/{y}), and the notice `options.failed` shown
     when none can be drawn: an error before any tile loaded, no tile after a while, or
     no tile server at all. */
  function background(map, options) {
    var notice = control(map, "topright", "map-notice");
    notice.setAttribute("role", "status");
    notice.hidden = true;
    function show() {
      notice.textContent = options.failed || "Map background unavailable";
      notice.hidden = false;
      map.getContainer().classList.add("no-tiles");
      map._townBare = true;
      bareCheck(map);
    }
    function hide() {
      notice.hidden = true;
      map.getContainer().classList.remove("no-tiles");
    }
    if (!options.url) {
      show();
      return null;
    }
    var loaded = 0;
    var layer = L.tileLayer(options.url, {
      maxZoom: 19, attribution: escapeHTML(options.attribution)
    });
    layer.on("tileload", function () { loaded += 1; hide(); });
    layer.on("tileerror", function () { if (!loaded) { show(); } });
    window.setTimeout(function () { if (!loaded) { show(); } }, TILES_TIMEOUT_MS);
    layer.addTo(map);
    return layer;
  }

  /* The town's outline (GeoJSON, or the URL serving it), drawn under everything else.
     Calls `done(layer)` once drawn; a map opened on the town may fit it. */
  function outline(map, source, done) {
    if (!source) { return; }
    function draw(data) {
      if (!data || !data.features || !data.features.length) { return; }
      var layer = L.geoJSON(data, { style: OUTLINE_STYLE, interactive: false }).addTo(map);
      layer.bringToBack();
      map.getContainer().dataset.outline = String(data.features.length);
      map._townOutline = layer;
      bareCheck(map);
      if (done) { done(layer); }
    }
    if (typeof source === "string") {
      fetch(source, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(draw)
        .catch(function () { /* no outline: the reports still show */ });
    } else {
      draw(source);
    }
  }

  /* Calls `fit(outline)` once the map has no background and its outline is drawn: a
     close view of a bare map is a grey box, the whole town gives bearings. */
  function whenBare(map, fit) {
    map._townWhenBare = fit;
    bareCheck(map);
  }

  function bareCheck(map) {
    if (map._townBare && map._townOutline && map._townWhenBare) {
      var fit = map._townWhenBare;
      map._townWhenBare = null;
      fit(map._townOutline);
    }
  }

  /* A legend in the map's corner: items of {label, colour} (a dot) or {label, line: true}
     (the outline). Calling it again replaces the items. */
  function legend(map, title, items) {
    var box = map._townLegend;
    if (!box) {
      box = control(map, "bottomleft", "map-legend");
      map._townLegend = box;
    }
    box.textContent = "";
    var heading = document.createElement("p");
    heading.className = "map-legend-title";
    heading.textContent = title;
    box.appendChild(heading);
    var list = document.createElement("ul");
    items.forEach(function (item) {
      var li = document.createElement("li");
      var key = document.createElement("span");
      key.className = item.line ? "key line" : "key dot";
      key.setAttribute("aria-hidden", "true");
      if (item.colour) { key.style.backgroundColor = item.colour; }
      li.appendChild(key);
      li.appendChild(document.createTextNode(" " + item.label));
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  window.TownMap = { background: background, outline: outline, legend: legend, whenBare: whenBare };
}());
