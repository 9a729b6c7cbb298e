/* The console's behaviour: maps, response templates, charts, the simulator.
   No inline script anywhere (the CSP allows only files from this site): pages pass
   their data in data- attributes and <script type="application/json"> blocks. */
(function () {
  "use strict";

  var STATUS_COLOURS = {
    new: "#d9480f",
    acknowledged: "#1c7ed6",
    in_progress: "#7048e8",
    resolved: "#2b8a3e",
    closed: "#495057",
    duplicate: "#868e96"
  };
  var PALETTE = ["#1c7ed6", "#2b8a3e", "#e67700", "#7048e8", "#c2255c", "#0b7285", "#5c940d", "#495057"];

  function byId(id) { return document.getElementById(id); }
  function readJSON(id) {
    var el = byId(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  // Leaflet puts a string content (tooltip, popup) in innerHTML: give it a node instead.
  function asText(value) {
    var span = document.createElement("span");
    span.textContent = value;
    return span;
  }

  /* --- maps ---------------------------------------------------------------------- */

  // The background (or the notice saying it is missing) from the tile server of the
  // settings (MAP_TILES_URL), which the page's <body> carries; maps.js does the rest.
  function makeMap(el, center) {
    var map = L.map(el, { scrollWheelZoom: false });
    var page = document.body.dataset;
    TownMap.background(map, {
      url: page.tileUrl, attribution: page.tileAttribution, failed: page.tilesFailed
    });
    if (center) { map.setView([center[0], center[1]], center[2] || 13); }
    return map;
  }

  // The town's outline under the reports; `fit` opens the map on it.
  function townOutline(map, fit) {
    TownMap.outline(map, document.body.dataset.outline, function (layer) {
      if (fit) { map.fitBounds(layer.getBounds(), { animate: false }); }
    });
  }

  function outlineKey() {
    return { label: document.body.dataset.outlineLabel, line: true };
  }

  // A dot per status shown, in the order of STATUS_COLOURS, then the outline.
  function statusLegend(map, labels) {
    var items = Object.keys(STATUS_COLOURS).filter(function (s) { return labels[s]; })
      .map(function (s) { return { label: labels[s], colour: STATUS_COLOURS[s] }; });
    items.push(outlineKey());
    TownMap.legend(map, document.body.dataset.legendLabel, items);
  }

  function pin(latlng, status) {
    return L.circleMarker(latlng, {
      radius: 7, weight: 2, color: "#fff", fillOpacity: 0.9,
      fillColor: STATUS_COLOURS[status] || "#1c7ed6"
    });
  }

  function queueMap() {
    var el = byId("queue-map");
    if (!el) { return; }
    var map = makeMap(el, JSON.parse(el.dataset.center));
    // The view holds the reports and the town's outline around them, whichever comes first.
    var bounds = L.latLngBounds([]);
    function fit(layerBounds) {
      if (!layerBounds.isValid()) { return; }
      bounds.extend(layerBounds);
      map.fitBounds(bounds, { maxZoom: 17, padding: [20, 20], animate: false });
    }
    TownMap.outline(map, document.body.dataset.outline, function (layer) { fit(layer.getBounds()); });
    statusLegend(map, {});
    fetch(el.dataset.points, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var labels = {};
        data.features.forEach(function (f) { labels[f.properties.status] = f.properties.status_label; });
        statusLegend(map, labels);
        var layer = L.geoJSON(data, {
          pointToLayer: function (feature, latlng) { return pin(latlng, feature.properties.status); },
          onEachFeature: function (feature, marker) {
            var p = feature.properties;
            var link = document.createElement("a");
            link.href = p.url;
            link.textContent = "#" + p.number + " · " + p.category + " · " + p.status_label;
            marker.bindPopup(link);
          }
        }).addTo(map);
        if (data.features.length) { fit(layer.getBounds()); }
        var note = byId("map-note");
        if (note) { note.textContent = note.dataset.template.replace("N", data.features.length); }
        el.dataset.loaded = String(data.features.length);
      });
  }

  function reportMap() {
    var el = byId("report-map");
    if (!el) { return; }
    var at = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
    var map = makeMap(el, [at[0], at[1], 16]);
    townOutline(map, false);
    TownMap.whenBare(map, function (outline) {
      map.fitBounds(outline.getBounds().extend(at), { animate: false });
    });
    var status = el.dataset.status || "new";
    pin(at, status).addTo(map);
    var labels = {};
    labels[status] = el.dataset.statusLabel || status;
    statusLegend(map, labels);
  }

  function zonesMap() {
    var el = byId("zones-map");
    if (!el) { return; }
    var map = makeMap(el, JSON.parse(el.dataset.center));
    var zones = JSON.parse(el.dataset.zones);
    var group = L.featureGroup();
    zones.forEach(function (z) {
      L.geoJSON(z.geometry, {
        style: { color: z.kind === "boundary" ? "#1c7ed6" : "#e67700", weight: 2, fillOpacity: 0.08 }
      }).bindTooltip(asText(z.name)).addTo(group);
    });
    group.addTo(map);
    if (zones.length) { map.fitBounds(group.getBounds(), { animate: false }); }
  }

  /* --- response templates -------------------------------------------------------- */

  function templatePickers() {
    var templates = readJSON("templates-data");
    if (!templates) { return; }
    document.querySelectorAll(".template-picker").forEach(function (picker) {
      var select = picker.querySelector("select");
      var target = byId(picker.dataset.target);
      var statusField = picker.dataset.statusField ? byId(picker.dataset.statusField) : null;
      function fill() {
        var status = statusField ? statusField.value : null;
        select.innerHTML = "";
        var usable = templates.filter(function (t) {
          return status === null || t.status === "" || t.status === status;
        });
        usable.forEach(function (t) {
          var option = document.createElement("option");
          option.value = String(t.id);
          option.textContent = t.title;
          select.appendChild(option);
        });
        picker.hidden = usable.length === 0;
      }
      picker.querySelector("button.insert").addEventListener("click", function () {
        var chosen = templates.filter(function (t) { return String(t.id) === select.value; })[0];
        if (!chosen) { return; }
        target.value = target.value.trim() ? target.value.trim() + "\n\n" + chosen.body : chosen.body;
        target.focus();
      });
      if (statusField) { statusField.addEventListener("change", fill); }
      fill();
    });
    var form = byId("status-form");
    if (form) {
      var needing = form.dataset.reasonRequired.split(",");
      var status = byId("status-status");
      var message = byId("status-message");
      var sync = function () { message.required = needing.indexOf(status.value) >= 0; };
      status.addEventListener("change", sync);
      sync();
    }
  }

  /* --- dashboard ----------------------------------------------------------------- */

  function dashboard() {
    var data = readJSON("dashboard-data");
    if (!data || typeof Chart === "undefined") { return; }
    var words = readJSON("dashboard-labels");
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.animation = false;
    new Chart(byId("chart-daily"), {
      type: "line",
      data: {
        labels: data.daily.labels.map(function (d) { return d.slice(8, 10) + "/" + d.slice(5, 7); }),
        datasets: [
          { label: words["in"], data: data.daily["in"], borderColor: PALETTE[0], backgroundColor: PALETTE[0], tension: 0.2 },
          { label: words.closed, data: data.daily.closed, borderColor: PALETTE[1], backgroundColor: PALETTE[1], tension: 0.2 }
        ]
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    ["in", "closed"].forEach(function (key) {
      new Chart(byId(key === "in" ? "chart-weekly-in" : "chart-weekly-closed"), {
        type: "bar",
        data: {
          labels: data.weekly.labels.map(function (w) { return words.week + " " + w.slice(8, 10) + "/" + w.slice(5, 7); }),
          datasets: data.weekly.services.map(function (name, i) {
            return { label: name, data: data.weekly[key][i], backgroundColor: PALETTE[i % PALETTE.length] };
          })
        },
        options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
      });
    });
    new Chart(byId("chart-backlog"), {
      type: "bar",
      data: {
        labels: data.backlog.labels,
        datasets: [
          { label: words.open, data: data.backlog.open, backgroundColor: PALETTE[0] },
          { label: words.overdue, data: data.backlog.overdue, backgroundColor: "#e03131" }
        ]
      },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  /* --- simulator ----------------------------------------------------------------- */

  function simulator() {
    var config = byId("sim-config");
    if (!config) { return; }
    var chat = byId("chat");
    var choices = byId("choices");
    var input = byId("sim-text");
    var busy = false;

    function bubble(text, who) {
      var div = document.createElement("div");
      div.className = "bubble " + who;
      div.textContent = text;
      chat.appendChild(div);
      chat.scrollTop = chat.scrollHeight;
    }

    function choiceButton(c, parent) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "choice";
      b.textContent = c.label;
      if (c.description) { b.title = c.description; }
      b.addEventListener("click", function () { say({ choice: c.value }, c.label); });
      parent.appendChild(b);
    }

    // WhatsApp draws a Reply its own way: quick replies (3 buttons at most), a list
    // behind one button (10 rows at most), or a numbered text to answer by typing.
    function showWhatsApp(w) {
      bubble(w.body, "bot wa");
      if (w.kind === "twilio/quick-reply") {
        w.buttons.forEach(function (c) { choiceButton(c, choices); });
      } else if (w.kind === "twilio/list-picker") {
        var list = document.createElement("details");
        list.className = "wa-list";
        var summary = document.createElement("summary");
        summary.textContent = w.button;
        list.appendChild(summary);
        w.rows.forEach(function (c) { choiceButton(c, list); });
        choices.appendChild(list);
      }
    }

    function show(replies) {
      if (!replies.length) { return; }
      choices.innerHTML = "";
      var look = byId("sim-look").value;
      replies.forEach(function (r) {
        if (r.looks && r.looks[look]) { showWhatsApp(r.looks[look]); return; }
        bubble(r.text, "bot");
        r.choices.forEach(function (c) { choiceButton(c, choices); });
      });
    }

    function post(url, body) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": config.dataset.csrf },
        body: JSON.stringify(body)
      }).then(function (r) { return r.json(); });
    }

    function say(body, shown) {
      if (busy) { return; }
      busy = true;
      body.lang = byId("sim-lang").value;
      bubble(shown, "me");
      choices.innerHTML = "";
      post(config.dataset.say, body)
        .then(function (data) { show(data.replies || []); })
        .finally(function () { busy = false; input.focus(); });
    }

    byId("sim-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      input.value = "";
      say({ text: text }, text);
    });

    // A picture, as a phone sends one: the server takes it in as every channel does.
    var photo = byId("sim-photo");
    photo.addEventListener("change", function () {
      var file = photo.files[0];
      if (!file || busy) { return; }
      busy = true;
      var form = new FormData();
      form.append("photo", file);
      form.append("lang", byId("sim-lang").value);
      bubble(config.dataset.photoLabel + " " + file.name, "me");
      choices.innerHTML = "";
      fetch(config.dataset.photo, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": config.dataset.csrf },
        body: form
      }).then(function (r) {
        return r.ok ? r.json() : { replies: [{ text: "(" + r.status + " " + r.statusText + ")", choices: [] }] };
      }).then(function (data) { show(data.replies || []); })
        .finally(function () { busy = false; photo.value = ""; input.focus(); });
    });

    byId("sim-lang").addEventListener("change", function () {
      post(config.dataset.language, { lang: this.value });
    });

    var mapEl = byId("sim-map");
    var chosen = null;
    var map = makeMap(mapEl, JSON.parse(config.dataset.center));
    townOutline(map, true);
    TownMap.legend(map, document.body.dataset.legendLabel, [
      { label: config.dataset.pinLabel, colour: STATUS_COLOURS["new"] }, outlineKey()
    ]);
    var marker = null;
    var sendPin = byId("sim-send-pin");
    map.on("click", function (event) {
      chosen = [event.latlng.lat, event.latlng.lng];
      if (marker) { marker.setLatLng(event.latlng); } else { marker = pin(event.latlng, "new").addTo(map); }
      byId("sim-pin").textContent = chosen[0].toFixed(5) + ", " + chosen[1].toFixed(5);
      sendPin.disabled = false;
    });
    sendPin.addEventListener("click", function () {
      if (!chosen) { return; }
      say({ location: chosen }, config.dataset.pin + " " + chosen[0].toFixed(5) + ", " + chosen[1].toFixed(5));
    });
    // Status updates from agents arrive while the citizen waits.
    setInterval(function () {
      if (busy || document.hidden) { return; }
      post(config.dataset.poll, {}).then(function (data) { show(data.replies || []); });
    }, 3000);
    chat.scrollTop = chat.scrollHeight;
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof L !== "undefined" && window.TownMap) {
      queueMap();
      reportMap();
      zonesMap();
    }
    templatePickers();
    dashboard();
    simulator();
  });
})();
