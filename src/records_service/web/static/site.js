/* Small progressive enhancements; every page works without them. */
(function () {
  "use strict";

  function titleFromName(name) {
    var stem = name.replace(/^.*[\\/]/, "");
    if (stem.replace(/^\.+|\.+$/g, "").indexOf(".") !== -1) {
      stem = stem.slice(0, stem.lastIndexOf("."));
    }
    var words = stem.replace(/[_-]+/g, " ").trim().replace(/\s+/g, " ");
    return words ? words.charAt(0).toUpperCase() + words.slice(1) : "Untitled document";
  }

  /* The error summary takes focus so screen readers announce it straight away. */
  function focusErrorSummary() {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  }

  /* One title box per chosen file, each filled from the file's name. */
  function perFileTitles(input) {
    var list = document.getElementById("file-titles");
    var single = document.querySelector("[data-single-title]");
    if (!list || !single) { return; }
    list.textContent = "";
    var files = Array.prototype.slice.call(input.files || []);
    single.hidden = files.length > 0;
    single.querySelector("input").disabled = files.length > 0;
    files.forEach(function (file, index) {
      var field = document.createElement("div");
      field.className = "field";
      var label = document.createElement("label");
      label.htmlFor = "title-" + index;
      label.textContent = "Title for " + file.name;
      var box = document.createElement("input");
      box.className = "input";
      box.type = "text";
      box.name = "titles";
      box.id = "title-" + index;
      box.maxLength = 300;
      box.value = titleFromName(file.name);
      field.appendChild(label);
      field.appendChild(box);
      list.appendChild(field);
    });
  }

  function dropZones() {
    document.querySelectorAll("[data-drop-zone]").forEach(function (zone) {
      var input = zone.querySelector("input[type=file]");
      if (!input) { return; }
      input.addEventListener("change", function () { perFileTitles(input); });
      ["dragenter", "dragover"].forEach(function (name) {
        zone.addEventListener(name, function (event) {
          event.preventDefault();
          zone.classList.add("dragging");
        });
      });
      ["dragleave", "drop"].forEach(function (name) {
        zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
        var files = event.dataTransfer.files;
        if (!input.multiple && files.length > 1) {
          var one = new DataTransfer();
          one.items.add(files[0]);
          files = one.files;
        }
        input.files = files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  }

  /* Suggest existing tags for the part after the last comma. */
  function tagCompletion() {
    document.querySelectorAll("[data-tag-input]").forEach(function (input) {
      var list = document.getElementById(input.getAttribute("list"));
      if (!list) { return; }
      var known = Array.prototype.map.call(list.options, function (o) { return o.value; });
      input.addEventListener("input", function () {
        var parts = input.value.split(",");
        var last = parts.pop().trim().toLowerCase();
        var before = parts.map(function (p) { return p.trim(); }).filter(Boolean);
        var prefix = before.length ? before.join(", ") + ", " : "";
        list.textContent = "";
        known.filter(function (tag) {
          return tag.indexOf(last) === 0 && before.indexOf(tag) === -1;
        }).slice(0, 20).forEach(function (tag) {
          var option = document.createElement("option");
          option.value = prefix + tag;
          list.appendChild(option);
        });
      });
    });
  }

  /* Leave blank filters out of a search's address, so shared links stay short. */
  function tidyGetForms() {
    document.querySelectorAll("form[method=get]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var blank = Array.prototype.filter.call(form.elements, function (field) {
          return field.name && !field.disabled && field.value === "" && field.type !== "submit";
        });
        blank.forEach(function (field) { field.disabled = true; });
        /* The browser has read the form by now; re-enable for the back button. */
        setTimeout(function () {
          blank.forEach(function (field) { field.disabled = false; });
        }, 0);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    tidyGetForms();
    dropZones();
    tagCompletion();
  });
})();
