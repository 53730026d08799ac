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

  function element(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  /* A real calendar day as YYYY-MM-DD, or null. */
  function isoDay(year, month, day) {
    var when = new Date(Date.UTC(+year, +month - 1, +day));
    if (when.getUTCFullYear() !== +year || when.getUTCMonth() !== +month - 1 ||
        when.getUTCDate() !== +day || +year < 1900) { return null; }
    return when.toISOString().slice(0, 10);
  }

  /* A date written in a file's name: 2023-06-30, 2023_06_30, 20230630 or 30-06-2023. */
  function dateInName(name) {
    var match = /(?:^|\D)((?:19|20)\d\d)[-_.]?(\d\d)[-_.]?(\d\d)(?!\d)/.exec(name);
    if (match) { return isoDay(match[1], match[2], match[3]); }
    match = /(?:^|\D)(\d\d)[-_.](\d\d)[-_.]((?:19|20)\d\d)(?!\d)/.exec(name);
    return match ? isoDay(match[3], match[2], match[1]) : null;
  }

  function readText(blob) {
    return blob.arrayBuffer().then(function (buffer) {
      return new TextDecoder("latin1").decode(buffer);
    });
  }

  /* A PDF's creation date, from its information dictionary or XMP metadata. */
  function pdfDate(file) {
    var edge = 256 * 1024;
    var parts = [file.slice(0, edge), file.slice(Math.max(edge, file.size - edge))];
    return Promise.all(parts.map(readText)).then(function (texts) {
      var text = texts.join("");
      var match = /\/CreationDate\s*\((?:D(?::|\\072))?(\d{4})(\d\d)(\d\d)/.exec(text) ||
        /xmp:CreateDate(?:>|=")(\d{4})-(\d\d)-(\d\d)/.exec(text);
      return match ? isoDay(match[1], match[2], match[3]) : null;
    });
  }

  /* The bytes of one member of a ZIP file (a Word document), found by its name. */
  function zipMember(file, wanted) {
    var tail = Math.max(0, file.size - 66000);
    return file.slice(tail).arrayBuffer().then(function (buffer) {
      var view = new DataView(buffer);
      for (var at = buffer.byteLength - 22; at >= 0; at -= 1) {
        if (view.getUint32(at, true) === 0x06054b50) {
          var size = view.getUint32(at + 12, true), start = view.getUint32(at + 16, true);
          return file.slice(start, start + size).arrayBuffer();
        }
      }
      return null;
    }).then(function (directory) {
      if (!directory) { return null; }
      var view = new DataView(directory), names = new TextDecoder();
      for (var at = 0; at + 46 <= directory.byteLength;) {
        var nameLength = view.getUint16(at + 28, true);
        var skip = 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
        var name = names.decode(new Uint8Array(directory, at + 46, nameLength));
        if (name === wanted) {
          return { method: view.getUint16(at + 10, true), size: view.getUint32(at + 20, true),
                   offset: view.getUint32(at + 42, true) };
        }
        at += skip;
      }
      return null;
    }).then(function (entry) {
      if (!entry) { return null; }
      return file.slice(entry.offset, entry.offset + 30).arrayBuffer().then(function (head) {
        var view = new DataView(head);
        var start = entry.offset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
        var data = file.slice(start, start + entry.size);
        if (entry.method === 0) { return data.text(); }
        if (entry.method !== 8 || typeof DecompressionStream === "undefined") { return null; }
        return new Response(data.stream().pipeThrough(new DecompressionStream("deflate-raw"))).text();
      });
    });
  }

  /* A Word document's creation date, from its document properties. */
  function docxDate(file) {
    return zipMember(file, "docProps/core.xml").then(function (xml) {
      var match = xml && /<dcterms:created[^>]*>(\d{4})-(\d\d)-(\d\d)/.exec(xml);
      return match ? isoDay(match[1], match[2], match[3]) : null;
    });
  }

  /* Where the file itself says its date: [day, "where it came from"], or null. */
  function suggestDate(file) {
    var fromName = dateInName(file.name);
    if (fromName) { return Promise.resolve([fromName, "the file name"]); }
    var lower = file.name.toLowerCase();
    var reader = null, source = "";
    if (lower.slice(-4) === ".pdf") { reader = pdfDate; source = "the PDF's creation date"; }
    if (lower.slice(-5) === ".docx") { reader = docxDate; source = "the Word document's properties"; }
    if (!reader) { return Promise.resolve(null); }
    return reader(file).then(function (day) { return day ? [day, source] : null; },
                             function () { return null; });
  }

  function labelled(index, name, text, control) {
    var field = element("div", { "class": "field" });
    field.appendChild(element("label", { "for": name + "-" + index }, text));
    field.appendChild(control);
    return field;
  }

  var DATE_PARTS = ["day", "month", "year"];

  /* One file's own day, month and year boxes: a copy of the batch's, renamed. */
  function fileDateGroup(file, index) {
    var id = "record_date-" + index;
    var field = document.getElementById("record_date").closest(".field").cloneNode(true);
    field.classList.remove("field-error");
    field.querySelectorAll(".error-message").forEach(function (node) { node.remove(); });
    var group = field.querySelector("fieldset");
    group.id = id;
    group.setAttribute("aria-describedby", id + "-hint");
    group.querySelector("legend").textContent = "Record date for " + file.name;
    var hint = group.querySelector(".hint");
    hint.id = id + "-hint";
    hint.textContent = "Leave blank to use the record date above.";
    DATE_PARTS.forEach(function (part) {
      var box = group.querySelector("input.date-input-" + part);
      box.id = id + "_" + part;
      box.name = "file_dates_" + part;
      box.value = "";
      box.classList.remove("input-error");
      box.removeAttribute("aria-invalid");
      box.closest(".date-input-item").querySelector("label").setAttribute("for", box.id);
    });
    return field;
  }

  /* The three boxes of a date group, by part. */
  function dateBoxes(id) {
    var boxes = {};
    DATE_PARTS.forEach(function (part) { boxes[part] = document.getElementById(id + "_" + part); });
    return boxes;
  }

  /* One file's own boxes: title, record type and date (blank takes the batch's). */
  function fileRow(file, index) {
    var row = element("fieldset", { "class": "file-row", "data-file-row": "" });
    row.appendChild(element("legend", {}, file.name));
    var title = element("input", { "class": "input", type: "text", name: "titles",
                                   id: "title-" + index, maxlength: "300" });
    title.value = titleFromName(file.name);
    row.appendChild(labelled(index, "title", "Title for " + file.name, title));
    var type = document.getElementById("record_type").cloneNode(true);
    type.id = "record_type-" + index;
    type.name = "file_types";
    type.removeAttribute("aria-describedby");
    type.removeAttribute("aria-invalid");
    type.options[0].textContent = "Same as the record type above";
    type.value = "";
    row.appendChild(labelled(index, "record_type", "Record type for " + file.name, type));
    var dateField = fileDateGroup(file, index);
    row.appendChild(dateField);
    suggestDate(file).then(function (found) {
      var boxes = dateBoxes("record_date-" + index);
      if (!found || DATE_PARTS.some(function (part) { return boxes[part].value; })) { return; }
      var parts = found[0].split("-");
      boxes.year.value = parts[0];
      boxes.month.value = String(+parts[1]);
      boxes.day.value = String(+parts[2]);
      dateField.querySelector(".hint").textContent =
        "Suggested from " + found[1] + ". Change it if the document says otherwise.";
    });
    var bar = element("progress", { id: "progress-" + index, max: "100", value: "0",
                                    "class": "file-progress", "aria-label": "Upload of " + file.name });
    row.appendChild(bar);
    return row;
  }

  /* Boxes for each chosen file, filled from what the file says about itself. */
  function perFileTitles(input) {
    var list = document.getElementById("file-titles");
    var single = document.querySelector("[data-single-title]");
    if (!list || !single || !document.getElementById("record_type") ||
        !document.getElementById("record_date")) { return; }
    list.textContent = "";
    var files = Array.prototype.slice.call(input.files || []);
    single.hidden = files.length > 0;
    single.querySelector("input").disabled = files.length > 0;
    files.forEach(function (file, index) { list.appendChild(fileRow(file, index)); });
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

  /* Remove the errors shown, by the server or by this script. */
  function clearErrors(form) {
    document.querySelectorAll(".error-summary").forEach(function (node) { node.remove(); });
    form.querySelectorAll(".error-message").forEach(function (node) { node.remove(); });
    form.querySelectorAll(".field-error").forEach(function (node) {
      node.classList.remove("field-error");
    });
    form.querySelectorAll(".input-error").forEach(function (node) {
      node.classList.remove("input-error");
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (control) {
      control.removeAttribute("aria-invalid");
    });
    form.querySelectorAll("[aria-describedby]").forEach(function (control) {
      var ids = control.getAttribute("aria-describedby").split(" ").filter(function (id) {
        return id && id.slice(-6) !== "-error";
      });
      if (ids.length) { control.setAttribute("aria-describedby", ids.join(" ")); }
      else { control.removeAttribute("aria-describedby"); }
    });
  }

  /* Mark a date group's wrong boxes (all three when the error does not say which). */
  function markDateBoxes(group, parts) {
    (parts && parts.length ? parts : DATE_PARTS).forEach(function (part) {
      var box = document.getElementById(group.id + "_" + part);
      if (!box) { return; }
      box.classList.add("input-error");
      box.setAttribute("aria-invalid", "true");
    });
  }

  /* Show every error beside its field and in a summary at the top, as the server does. */
  function showErrors(form, errors) {
    clearErrors(form);
    var summary = element("div", { "class": "error-summary", role: "alert", tabindex: "-1" });
    summary.appendChild(element("h2", {}, "There is a problem"));
    var list = element("ul");
    errors.forEach(function (error) {
      var item = element("li");
      item.appendChild(element("a", { href: "#" + error.field }, error.message));
      list.appendChild(item);
      var control = document.getElementById(error.field);
      var field = control && control.closest(".field");
      if (!field) { return; }
      field.classList.add("field-error");
      var message = element("p", { "class": "error-message", id: error.field + "-error" });
      message.appendChild(element("span", { "class": "visually-hidden" }, "Error:"));
      message.appendChild(document.createTextNode(" " + error.message));
      var after = field.querySelector(".hint") || field.querySelector("label, legend");
      after.parentNode.insertBefore(message, after.nextSibling);
      var described = control.getAttribute("aria-describedby");
      control.setAttribute("aria-describedby", (described ? described + " " : "") + error.field + "-error");
      if (control.classList.contains("date-group")) { markDateBoxes(control, error.boxes); }
      else { control.setAttribute("aria-invalid", "true"); }
    });
    summary.appendChild(list);
    var heading = document.querySelector("main h1");
    heading.parentNode.insertBefore(summary, heading);
    summary.focus();
  }

  /* What is wrong with a date's boxes, as the server says it: null when it is blank or
     looks right (the server checks its range), else the message and the boxes to correct. */
  function dateProblem(boxes, label) {
    var typed = {};
    DATE_PARTS.forEach(function (part) { typed[part] = boxes[part].value.trim(); });
    if (!DATE_PARTS.some(function (part) { return typed[part]; })) { return null; }
    var missing = DATE_PARTS.filter(function (part) { return !typed[part]; });
    if (missing.length) {
      return { message: label + " must include a " + missing.join(" and "), boxes: missing };
    }
    var notNumbers = DATE_PARTS.filter(function (part) { return !/^[0-9]+$/.test(typed[part]); });
    if (notNumbers.length) {
      return { message: label + " must be a real date, in numbers", boxes: notNumbers };
    }
    if (typed.year.length !== 4) {
      return { message: "The year of " + label.charAt(0).toLowerCase() + label.slice(1) +
                        " must have 4 numbers", boxes: ["year"] };
    }
    var when = new Date(Date.UTC(+typed.year, +typed.month - 1, +typed.day));
    if (when.getUTCMonth() !== +typed.month - 1 || when.getUTCDate() !== +typed.day) {
      var month = +typed.month;
      return { message: label + " must be a real date",
               boxes: month >= 1 && month <= 12 ? ["day"] : ["month"] };
    }
    return null;
  }

  function blankDate(boxes) {
    return !DATE_PARTS.some(function (part) { return boxes[part].value.trim(); });
  }

  /* What the browser itself can tell before asking the server. */
  function localErrors(form) {
    var errors = [];
    function note(field, problem) {
      if (problem) { errors.push({ field: field, message: problem.message, boxes: problem.boxes }); }
    }
    var input = form.querySelector("input[type=file]");
    if (!input.files.length) {
      errors.push({ field: "files", message: "Choose at least one file to upload" });
    }
    var batchType = form.elements.record_type.value;
    var batchDate = dateBoxes("record_date");
    note("record_date", dateProblem(batchDate, "Record date"));
    Array.prototype.forEach.call(input.files, function (file, index) {
      var type = document.getElementById("record_type-" + index);
      if (type && !type.value && !batchType) {
        errors.push({ field: "record_type-" + index, message: "Choose a record type for " + file.name });
      }
      if (!document.getElementById("record_date-" + index)) { return; }
      var own = dateBoxes("record_date-" + index);
      if (!blankDate(own)) {
        note("record_date-" + index, dateProblem(own, "Record date for " + file.name));
      } else if (blankDate(batchDate)) {
        errors.push({ field: "record_date-" + index, message: "Enter the date " + file.name + " bears" });
      }
    });
    return errors;
  }

  /* The server's errors, and any of the browser's own about fields the server did not
     mention, so every error shows at once. */
  function mergedErrors(server, local) {
    var named = {};
    server.forEach(function (error) { named[error.field] = true; });
    return server.concat(local.filter(function (error) { return !named[error.field]; }));
  }

  /* The form's fields without the files, and the files' names, for /upload/check. */
  function fieldsOnly(form) {
    var body = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.disabled || field.type === "file") { return; }
      if ((field.type === "radio" || field.type === "checkbox") && !field.checked) { return; }
      body.append(field.name, field.value);
    });
    Array.prototype.forEach.call(form.querySelector("input[type=file]").files, function (file) {
      body.append("names", file.name);
    });
    return body;
  }

  function problemErrors(xhr) {
    if ((xhr.getResponseHeader("Content-Type") || "").indexOf("json") === -1) { return null; }
    try { return JSON.parse(xhr.responseText).errors || null; } catch (ignore) { return null; }
  }

  /* Show the page the server answered with (the upload's results). */
  function showPage(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    document.title = page.title;
    document.body.replaceWith(document.adoptNode(page.body));
    window.scrollTo(0, 0);
  }

  /* Move each file's bar, and the batch's, as the request's bytes go out. */
  function progressOf(form) {
    var files = Array.prototype.slice.call(form.querySelector("input[type=file]").files);
    var total = files.reduce(function (sum, file) { return sum + file.size; }, 0) || 1;
    var status = form.querySelector("[data-upload-status]");
    return function (sent, size) {
      var bytes = size ? sent * total / size : 0, start = 0;
      files.forEach(function (file, index) {
        var bar = document.getElementById("progress-" + index);
        var part = file.size ? (bytes - start) / file.size : (bytes >= start ? 1 : 0);
        if (bar) { bar.value = Math.round(100 * Math.max(0, Math.min(1, part))); }
        start += file.size;
      });
      var percent = Math.round(100 * Math.min(1, bytes / total));
      form.querySelector("#batch-progress").value = percent;
      status.textContent = percent < 100 ? "Sending: " + percent + "%" : "Sent; filing the records…";
    };
  }

  function send(form, button) {
    var xhr = new XMLHttpRequest();
    var progress = form.querySelector("[data-upload-progress]");
    var update = progressOf(form);
    progress.hidden = false;
    update(0, 0);
    xhr.upload.addEventListener("progress", function (event) { update(event.loaded, event.total); });
    xhr.upload.addEventListener("load", function () { update(1, 1); });
    xhr.addEventListener("load", function () {
      var errors = xhr.status === 422 ? problemErrors(xhr) : null;
      if (!errors) { showPage(xhr.responseText); return; }
      button.disabled = false;
      progress.hidden = true;
      showErrors(form, errors);
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      progress.hidden = true;
      showErrors(form, [{ field: "files", message:
        "The upload did not reach the service. Your files are still chosen: try again." }]);
    });
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/problem+json, text/html");
    xhr.send(new FormData(form));
  }

  /* Check every field, here and on the server, before any file is sent. */
  function checkThenSend(form, button) {
    var local = localErrors(form);
    button.disabled = true;
    var check = new XMLHttpRequest();
    check.addEventListener("load", function () {
      var problems = check.status === 422 ? problemErrors(check) : null;
      if (check.status === 204 && !local.length) { clearErrors(form); send(form, button); return; }
      button.disabled = false;
      if (check.status === 204) { showErrors(form, local); return; }
      showErrors(form, problems ? mergedErrors(problems, local) : mergedErrors(local, [{
        field: "files",
        message: "The service could not check the form. Your files are still chosen: try again." }]));
    });
    check.addEventListener("error", function () {
      button.disabled = false;
      showErrors(form, mergedErrors(local, [{ field: "files", message:
        "The service could not be reached. Your files are still chosen: try again." }]));
    });
    check.open("POST", form.action.replace(/\/upload\?/, "/upload/check?"));
    check.setRequestHeader("Accept", "application/problem+json");
    check.send(fieldsOnly(form));
  }

  function uploadForms() {
    document.querySelectorAll("[data-upload-form]").forEach(function (form) {
      var button = form.querySelector("[data-upload-button]");
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (!button.disabled) { checkThenSend(form, button); }
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
    uploadForms();
    tagCompletion();
  });
})();
