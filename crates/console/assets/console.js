// ponte console: small enhancements; every page works without this file.
// "Select all" for tables of checkboxes (the Errors list).
document.addEventListener("change", function (e) {
  var t = e.target;
  if (t && t.matches && t.matches("input[data-select-all]")) {
    var form = t.closest("form");
    if (!form) return;
    form.querySelectorAll('input[type=checkbox][name="' + t.getAttribute("data-select-all") + '"]')
      .forEach(function (c) { c.checked = t.checked; });
  }
});
