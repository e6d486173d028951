/* custseg report: each inline script creates its chart's div where it stands; the
   charts are drawn once the page is parsed, when the layout (and so each width) is final.
   No network access. */
(function () {
  "use strict";
  var CONFIG = window.CUSTSEG_PLOTLY_CONFIG || {};
  var queue = [];
  function draw(div, spec) {
    var config = Object.assign({}, CONFIG, {toImageButtonOptions: {format: "png", filename: div.id}});
    Plotly.newPlot(div, spec.data, spec.layout, config);
  }
  window.custsegPlot = function (id, spec) {
    var script = document.currentScript;
    var div = document.createElement("div");
    div.id = id;
    div.className = "chart";
    div.style.minHeight = ((spec.layout && spec.layout.height) || 300) + "px";
    script.parentNode.insertBefore(div, script);
    if (document.readyState === "loading") {
      queue.push([div, spec]);
    } else {
      draw(div, spec);
    }
  };
  document.addEventListener("DOMContentLoaded", function () {
    var pending = queue;
    queue = [];
    pending.forEach(function (item) { draw(item[0], item[1]); });
  });
})();
