// The verify page: send one file to POST v1/report with a progress bar, then show the HTML
// report from the answer inside this page and offer both reports for download. Loaded from
// this service only (the page's CSP allows no inline script); talks to this service only.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("form");
  const input = $("file");
  const drop = $("drop");
  const busy = $("busy");
  const progress = $("progress");
  const status = $("status");
  const errorBox = $("error");
  const result = $("result");
  const report = $("report");
  const maxBytes = Number(form.dataset.maxBytes || "0");
  let urls = [];

  function say(text) {
    status.textContent = text;
  }

  function reset() {
    errorBox.hidden = true;
    result.hidden = true;
    busy.hidden = true;
    report.replaceChildren();
    urls.forEach((u) => URL.revokeObjectURL(u));
    urls = [];
  }

  function showError(err) {
    busy.hidden = true;
    form.hidden = false;
    $("error-message").textContent = err.message || "The file could not be checked.";
    $("error-hint").textContent = err.hint || "";
    $("error-code").textContent = err.code || "error";
    errorBox.hidden = false;
  }

  function download(link, text, type, name) {
    const url = URL.createObjectURL(new Blob([text], { type: type }));
    urls.push(url);
    link.href = url;
    link.download = name;
  }

  function show(answer, fileName) {
    // The report is escaped HTML made by veriframe. Parsed into an inert <template> (nothing
    // in it runs, loads or applies), stripped of what only a standalone page needs (its own
    // CSP, title and inline stylesheet: this page loads the same styles as report.css), and
    // moved into the page. The page's CSP allows no inline script in any case.
    const template = document.createElement("template");
    template.innerHTML = answer.html;
    const body = template.content;
    body.querySelectorAll("script, style, link, meta, title, base, iframe, object, embed, form")
      .forEach((node) => node.remove());
    report.replaceChildren(document.importNode(body, true));
    const stem = fileName.replace(/\.[^.]*$/, "") || "video";
    download($("download-json"), answer.json, "application/json", stem + ".veriframe.json");
    download($("download-html"), answer.html, "text/html", stem + ".veriframe.html");
    busy.hidden = true;
    form.hidden = true;
    result.hidden = false;
    document.title = "veriframe: " + answer.verdict + " (" + fileName + ")";
  }

  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function check(file) {
    if (!file) return;
    reset();
    if (maxBytes && file.size > maxBytes) {
      showError({ code: "http.too-large", message: "This file is over the service's limit.",
                  hint: "Send a shorter excerpt of the video." });
      return;
    }
    const body = new FormData();
    body.append("policy", $("policy").value);
    body.append("detect", $("detect").checked ? "true" : "false");
    body.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "v1/report");
    const token = $("token");
    if (token && token.value) xhr.setRequestHeader("Authorization", "Bearer " + token.value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        progress.value = Math.round((100 * e.loaded) / e.total);
        say("Uploading " + file.name + ": " + progress.value + " %");
      }
    };
    xhr.upload.onload = () => {
      progress.removeAttribute("value"); // indeterminate while the service checks
      say("Checking " + file.name + ": credentials, watermark, detector, policy...");
    };
    xhr.onload = () => {
      const answer = parse(xhr.responseText);
      if (xhr.status === 200 && answer && typeof answer.html === "string") {
        show(answer, file.name);
      } else if (answer && answer.error) {
        showError(answer.error);
      } else {
        showError({ code: "http." + xhr.status, message: "The service answered " + xhr.status +
                    ".", hint: "Try again; if it persists, ask whoever runs this service." });
      }
    };
    xhr.onerror = () => showError({ code: "network", message: "The service could not be " +
      "reached.", hint: "Check that it is still running, then try again." });
    progress.value = 0;
    say("Uploading " + file.name + "...");
    busy.hidden = false;
    form.hidden = true;
    xhr.send(body);
  }

  form.addEventListener("submit", (e) => e.preventDefault()); // Enter in a field: no navigation
  input.addEventListener("change", () => {
    check(input.files[0]);
    input.value = ""; // the same file can be chosen again
  });
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add("vf-over");
  }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => {
    drop.classList.remove("vf-over");
  }));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    check(e.dataTransfer.files[0]);
  });
  // A file dropped beside the zone must not make the browser open it instead.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  $("again").addEventListener("click", () => {
    reset();
    form.hidden = false;
    document.title = "veriframe: verify a video";
  });
})();
