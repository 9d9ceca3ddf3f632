// Draws the review dashboard's charts: each Vega-Lite spec is inlined in the page (with its
// data) next to an empty element, and drawn there as SVG by the bundled vega-embed.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const node of document.querySelectorAll("script.chart-spec")) {
    const target = document.getElementById(node.dataset.target);
    vegaEmbed(target, JSON.parse(node.textContent), { renderer: "svg", actions: false }).catch((error) => {
      target.textContent = "This chart could not be drawn: " + error.message;
      console.error(error);
    });
  }
});
