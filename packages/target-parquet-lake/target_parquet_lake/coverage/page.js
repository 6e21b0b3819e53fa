// Draws each vendor's services x days heatmap from the JSON embedded in the page.
// No network: everything this needs is in this file and the page.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var DAY_MS = 86400000;
  var LABEL_W = 230, ROW_H = 14, ROW_GAP = 2, AXIS_H = 30, ACCOUNT_H = 16;
  var data = JSON.parse(document.getElementById("coverage-data").textContent);
  var info = document.getElementById("info");

  function dayNumber(iso) { return Math.round(Date.parse(iso + "T00:00:00Z") / DAY_MS); }
  function isoOf(n) { return new Date(n * DAY_MS).toISOString().slice(0, 10); }
  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function text(parent, x, y, cls, value) {
    var node = el("text", { x: x, y: y, "class": cls }, parent);
    node.textContent = value;
    return node;
  }
  var LABELS = { final: "final", not_final: "not final", missing: "missing" };

  function draw(vendor, holder, onlyGaps) {
    holder.textContent = "";
    if (!vendor.first) { holder.textContent = "No metric days in the lake."; return; }
    var first = dayNumber(vendor.first), last = dayNumber(vendor.last);
    var ndays = last - first + 1;
    var cell = Math.max(3, Math.min(14, Math.floor(1000 / ndays)));
    var services = vendor.services.filter(function (s) { return !onlyGaps || s.gaps > 0 || s.failed; });
    var accounts = [];
    services.forEach(function (s) { if (accounts.indexOf(s.account) < 0) { accounts.push(s.account); } });
    var height = AXIS_H + accounts.length * ACCOUNT_H + services.length * (ROW_H + ROW_GAP) + 4;
    var width = LABEL_W + ndays * cell + 80;  // room for the last axis label
    var svg = el("svg", { width: width, height: height, role: "img",
      "aria-label": vendor.name + " coverage, " + vendor.first + " to " + vendor.last,
      "data-vendor": vendor.name }, holder);
    // Axis: a tick and a label at the first day and then every week, so labels never collide.
    var step = Math.max(1, Math.ceil(60 / cell / 7) * 7);
    for (var d = 0; d < ndays; d += step) {
      var x = LABEL_W + d * cell;
      el("line", { x1: x, x2: x, y1: AXIS_H - 6, y2: height, "class": "tick" }, svg);
      text(svg, x + 2, AXIS_H - 10, "axis", isoOf(first + d));
    }
    var y = AXIS_H, account = null;
    services.forEach(function (s) {
      if (s.account !== account) {
        account = s.account;
        text(svg, 4, y + 12, "account-label", account);
        y += ACCOUNT_H;
      }
      var row = el("g", { "class": "service-row", "data-account": s.account, "data-service": s.service,
        "data-failed": s.failed ? "true" : "false" }, svg);
      el("rect", { x: LABEL_W, y: y, width: ndays * cell, height: ROW_H, "class": "row-bg" }, row);
      var label = text(row, 16, y + 11, s.failed ? "row-label failed" : "row-label",
        (s.failed ? "\u2716 " : "") + s.service);
      if (s.failed) {
        el("rect", { x: 4, y: y + 2, width: 8, height: ROW_H - 4, "class": "failed-mark" }, row);
        el("title", {}, label).textContent = "failed in the last run: " + s.failed;
      }
      s.runs.forEach(function (run) {
        var start = dayNumber(run[0]), end = dayNumber(run[1]), status = run[2];
        var days = end - start + 1;
        var cls = "run status-" + status + (run[3] ? " after-failure" : "");
        var rect = el("rect", { x: LABEL_W + (start - first) * cell, y: y, width: days * cell,
          height: ROW_H, "class": cls, "data-status": status, "data-start": run[0],
          "data-end": run[1], "data-days": days, "data-after-failure": run[3] ? "true" : "false" }, row);
        var what = s.account + " / " + s.service + ": " + (days > 1 ? run[0] + ".." + run[1] : run[0]) +
          " " + LABELS[status] + " (" + days + (days > 1 ? " days)" : " day)") +
          (run[3] ? ", after the last run failed it" : "");
        el("title", {}, rect).textContent = what;
        rect.addEventListener("mouseenter", function () { info.textContent = what; info.style.display = "block"; });
        rect.addEventListener("mouseleave", function () { info.style.display = "none"; });
      });
      y += ROW_H + ROW_GAP;
    });
  }

  // `page.html#only-gaps` opens with every vendor filtered: a link to send with an alert.
  var onlyGaps = window.location.hash === "#only-gaps";
  data.vendors.forEach(function (vendor, i) {
    var holder = document.getElementById("heatmap-" + i);
    var toggle = document.getElementById("only-gaps-" + i);
    if (onlyGaps) { toggle.checked = true; }
    draw(vendor, holder, toggle.checked);
    toggle.addEventListener("change", function () { draw(vendor, holder, toggle.checked); });
  });
  document.body.setAttribute("data-rendered", "true");
})();
