// Opens the step a link points at (the plot's points and the lineage link to #step-N) and copies the
// apply command. No network, no library: the page's Content-Security-Policy runs this script alone.
"use strict";
function openTarget() {
  var id = decodeURIComponent(location.hash.slice(1));
  var el = id && document.getElementById(id);
  if (el && el.tagName === "DETAILS") { el.open = true; }
}
window.addEventListener("hashchange", openTarget);
openTarget();
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.target).textContent;
    if (navigator.clipboard) { navigator.clipboard.writeText(text).then(function () { button.textContent = "copied"; }, function () {}); }
  });
});
