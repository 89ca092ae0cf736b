// Small progressive enhancements; every page works without JavaScript.

// Texts come from Django's JavaScript catalogue (/i18n/js/, loaded before this file) in the page's language; numbers
// are written with Intl in that language too. Without the catalogue (it failed to load) the English texts are shown.
if (!window.gettext) {
  window.gettext = (text) => text;
  window.interpolate = (text, values) => text.replace(/%\((\w+)\)s/g, (whole, name) => String(values[name]));
}
const pageLanguage = document.documentElement.lang || "en";
const fill = (text, values) => interpolate(text, values, true);
const decimal = new Intl.NumberFormat(pageLanguage, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const percentage = new Intl.NumberFormat(pageLanguage, { style: "percent", maximumFractionDigits: 0 });

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.classList.contains("upload")) {
    event.preventDefault();
    uploadWithProgress(form);
  }
});

// Lectures are large: show upload progress, and the server's error next to the form.
function uploadWithProgress(form) {
  const bar = form.querySelector("progress");
  const button = form.querySelector("button");
  const old = form.querySelector(".error");
  if (old) old.remove();
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.setRequestHeader("Accept", "application/json");
  request.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total;
  });
  request.addEventListener("loadend", () => {
    button.disabled = false;
    bar.hidden = true;
    if (request.status === 201) {
      window.location.reload();
      return;
    }
    let message = gettext("The upload failed. Check your connection and try again.");
    let code = "upload_failed";
    try {
      const body = JSON.parse(request.responseText);
      message = body.error.message;
      code = body.error.code;
    } catch (ignored) { /* not our JSON: keep the generic message */ }
    const error = document.createElement("p");
    error.className = "error";
    error.dataset.code = code;
    error.textContent = message;
    form.append(error);
  });
  button.disabled = true;
  bar.hidden = false;
  bar.value = 0;
  request.send(new FormData(form));
}

// Live progress on a job page without reloading; the page reloads once the job's status changes.
const polled = document.querySelector("[data-poll-url]");
if (polled) {
  const bar = polled.querySelector("progress");
  const percent = polled.querySelector(".percent");
  const stage = polled.querySelector(".stage");
  const eta = polled.querySelector(".eta");
  const poll = async () => {
    try {
      const response = await fetch(polled.dataset.pollUrl, { headers: { Accept: "application/json" } });
      const state = await response.json();
      if (state.status !== polled.dataset.status || state.finished) {
        window.location.reload();
        return;
      }
      bar.value = state.progress;
      percent.textContent = percentage.format(state.progress);
      stage.textContent = state.stage_label;
      eta.textContent = state.time_left;
    } catch (ignored) { /* offline for a moment: try again on the next tick */ }
    window.setTimeout(poll, 1500);
  };
  window.setTimeout(poll, 1500);
}

// Free pre-flight as soon as a portrait and audio are chosen.
const jobForm = document.querySelector("form[data-preflight]");
if (jobForm) {
  const panel = jobForm.querySelector(".preflight");
  const check = async () => {
    if (!jobForm.portrait.value || !jobForm.audio.value) return;
    const data = new FormData(jobForm);
    data.set("action", "preflight");
    panel.textContent = gettext("Checking…");
    // getAttribute: the form's buttons are named "action", which shadows form.action.
    let body;
    try {
      const response = await fetch(jobForm.getAttribute("action") || window.location.href, {
        method: "POST", body: data, headers: { Accept: "application/json" },
      });
      body = await response.json();
    } catch (ignored) {
      body = { error: { message: gettext("The check could not run; try the Check button.") } };
    }
    panel.replaceChildren(preflightList(body));
  };
  jobForm.addEventListener("change", check);
  check();
}

function preflightList(body) {
  const list = document.createElement("ul");
  list.className = "checks";
  const add = (text, className) => {
    const item = document.createElement("li");
    item.textContent = text;
    if (className) item.className = className;
    list.append(item);
  };
  if (body.error) {
    add(body.error.message, "bad");
    return list;
  }
  if (body.face_error) add(fill(gettext("Face: %(message)s"), { message: body.face_error.message }), "bad");
  else if (body.faces_found > 1) {
    add(fill(gettext("Face found (%(count)s faces: the largest is animated)"), { count: body.faces_found }), "good");
  } else add(gettext("Face found"), "good");
  add(fill(gettext("Audio: %(seconds)s s"), { seconds: decimal.format(body.audio_duration_seconds) }));
  add(fill(gettext("Cost: %(seconds)s s of your render quota"), { seconds: body.quota_seconds }));
  body.warnings.forEach((warning) => add(warning, "warn"));
  return list;
}
