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
  if (form.classList.contains("upload") && window.tus && window.tus.isSupported) {
    event.preventDefault();
    uploadInParts(form);
  }
});

// Lectures are large and connections drop: files go up in 8 MiB parts (the tus protocol), and an upload that stops
// goes on from the last part the server has, after a retry, when the browser is back online, or when the same file
// is chosen again later. Without tus (no JavaScript) the form posts the whole file.
const megabytes = new Intl.NumberFormat(pageLanguage, { maximumFractionDigits: 1 });
const sizeText = (bytes) => fill(gettext("%(size)s MB"), { size: megabytes.format(bytes / 1e6) });

function uploadInParts(form, chosen) {
  const file = chosen || form.querySelector("input[type=file]").files[0];
  if (!file) return;
  const button = form.querySelector("button");
  const transfer = form.querySelector(".transfer");
  const bar = transfer.querySelector("progress");
  const text = transfer.querySelector(".transfer-text");
  const old = form.querySelector(".error");
  if (old) old.remove();
  const showError = (code, message) => {
    const error = document.createElement("p");
    error.className = "error";
    error.dataset.code = code;
    error.textContent = message;
    form.append(error);
  };
  const upload = new tus.Upload(file, {
    endpoint: form.dataset.endpoint,
    chunkSize: 8 * 1024 * 1024,
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
    metadata: { filename: file.name, kind: form.dataset.kind },
    headers: { "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value },
    removeFingerprintOnSuccess: true,
    // tus-js-client's own rule (a dropped connection, 5xx, 409, 423), plus a part refused for coming too fast
    // (429): both go on after the delays above.
    onShouldRetry(error) {
      const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
      const retryable = status < 400 || status >= 500 || [409, 423, 429].includes(status);
      return retryable && navigator.onLine !== false;
    },
    onProgress(sent, total) {
      bar.value = (100 * sent) / total;
      text.textContent = fill(gettext("%(sent)s of %(total)s sent"), { sent: sizeText(sent), total: sizeText(total) });
    },
    onSuccess() {
      text.textContent = gettext("Sent; checking the file…");
      window.location.reload();
    },
    onError(error) {
      const response = error.originalResponse;
      if (!response) {
        // The connection is gone and the retries are spent: go on from the server's offset once it is back.
        text.textContent = gettext("Connection lost; the upload goes on when you are back online.");
        let resumed = false;
        const goOn = () => {
          if (resumed) return;
          resumed = true;
          upload.start();
        };
        window.addEventListener("online", goOn, { once: true });
        window.setTimeout(goOn, 30000);
        return;
      }
      transfer.hidden = true;
      button.disabled = false;
      let code = "upload_failed";
      let message = gettext("The upload failed. Check your connection and try again.");
      try {
        const body = JSON.parse(response.getBody());
        code = body.error.code;
        message = body.error.message;
      } catch (ignored) { /* not our JSON: keep the generic message */ }
      showError(code, message);
    },
  });
  button.disabled = true;
  transfer.hidden = false;
  bar.value = 0;
  text.textContent = gettext("Starting…");
  upload.findPreviousUploads().then((previous) => {
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  });
}

// Speak a lesson straight into the library: record with a level meter, listen back, then save it like an upload.
const recorder = document.querySelector(".recorder");
if (recorder && window.MediaRecorder && navigator.mediaDevices && window.tus && window.tus.isSupported) {
  recorder.hidden = false;
  const part = (name) => recorder.querySelector(name);
  const [record, stop, level, elapsed, take, error] = [".record", ".stop", ".level", ".elapsed", ".take", ".error"]
    .map(part);
  const meter = level.querySelector("meter");
  let recording = null;
  let blob = null;
  const clock = new Intl.DateTimeFormat(pageLanguage, { dateStyle: "medium", timeStyle: "short" });
  record.addEventListener("click", async () => {
    error.hidden = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (refused) {
      error.textContent = gettext("The microphone could not be used; allow it in the browser and try again.");
      error.hidden = false;
      return;
    }
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const chunks = [];
    const started = Date.now();
    recording = new MediaRecorder(stream);
    recording.addEventListener("dataavailable", (event) => chunks.push(event.data));
    recording.addEventListener("stop", () => {
      stream.getTracks().forEach((track) => track.stop());
      context.close();
      blob = new Blob(chunks, { type: recording.mimeType || "audio/webm" });
      take.querySelector("audio").src = URL.createObjectURL(blob);
      part(".take-name").value = fill(gettext("Recording %(when)s"), { when: clock.format(new Date()) });
      [take.hidden, record.hidden, stop.hidden, level.hidden] = [false, false, true, true];
    });
    const show = () => {
      if (!recording || recording.state !== "recording") return;
      analyser.getFloatTimeDomainData(samples);
      meter.value = Math.min(1, Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length) * 4);
      const seconds = Math.floor((Date.now() - started) / 1000);
      elapsed.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
      window.requestAnimationFrame(show);
    };
    recording.start(1000);
    [take.hidden, record.hidden, stop.hidden, level.hidden, elapsed.hidden] = [true, true, false, false, false];
    show();
  });
  stop.addEventListener("click", () => recording && recording.stop());
  part(".discard").addEventListener("click", () => {
    blob = null;
    take.hidden = true;
  });
  part(".save").addEventListener("click", () => {
    const name = (part(".take-name").value.trim() || gettext("Recording")).replace(/[\\/]/g, " ");
    // Chromium and Firefox record WebM or Ogg with Opus; Safari records AAC in MP4.
    const extension = { ogg: ".ogg", mp4: ".m4a" }[blob.type.split(";")[0].split("/")[1]] || ".webm";
    const file = new File([blob], name.endsWith(extension) ? name : name + extension, { type: blob.type });
    take.hidden = true;
    uploadInParts(document.querySelector("form.upload[data-kind=audio]"), file);
  });
}

// Files a worker is checking: the library reloads when one is ready or refused.
const checking = document.querySelectorAll(".upload-state[data-status=checking]");
if (checking.length) {
  const poll = async () => {
    for (const item of checking) {
      try {
        const response = await fetch(item.dataset.stateUrl, { headers: { Accept: "application/json" } });
        const state = await response.json();
        if (state.status !== "checking") {
          window.location.reload();
          return;
        }
      } catch (ignored) { /* offline for a moment: try again on the next tick */ }
    }
    window.setTimeout(poll, 2000);
  };
  window.setTimeout(poll, 2000);
}

// A share link is selected whole when focused, ready to copy.
document.querySelectorAll("input.share-url").forEach((input) => input.addEventListener("focus", () => input.select()));

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

// Free pre-flight as soon as a portrait and audio are chosen; Render is offered only when it would be accepted.
const jobForm = document.querySelector("form[data-preflight]");
if (jobForm) {
  const panel = jobForm.querySelector(".preflight");
  const render = jobForm.querySelector("button.render");
  const blocked = jobForm.querySelector(".render-blocked");
  const previews = JSON.parse(document.getElementById("input-previews").textContent);
  const allow = (ok, reason) => {
    render.disabled = !ok;
    blocked.hidden = ok;
    blocked.textContent = ok ? "" : reason;
  };
  const check = async () => {
    showPortrait(jobForm, previews.portraits[jobForm.portrait.value]);
    showAudio(jobForm, previews.audio[jobForm.audio.value]);
    if (!jobForm.portrait.value || !jobForm.audio.value) {
      allow(false, gettext("Choose a portrait and audio first."));
      return;
    }
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
    panel.replaceChildren(preflightList(body, jobForm.dataset.upgradeUrl));
    allow(body.ok === true, body.ok ? "" : gettext("Render is available once the checks above pass."));
  };
  jobForm.addEventListener("change", check);
  check();
}

function showPortrait(form, portrait) {
  const figure = form.querySelector(".portrait-preview");
  figure.hidden = !portrait;
  if (!portrait) return;
  const image = figure.querySelector("img");
  const box = figure.querySelector(".face-box");
  const caption = figure.querySelector("figcaption");
  image.src = portrait.image;
  image.alt = gettext("The chosen portrait");
  box.hidden = !portrait.face_box;
  if (portrait.face_box) {
    const [left, top, right, bottom] = portrait.face_box;
    Object.assign(box.style, {
      left: `${(100 * left) / portrait.width}%`, top: `${(100 * top) / portrait.height}%`,
      width: `${(100 * (right - left)) / portrait.width}%`, height: `${(100 * (bottom - top)) / portrait.height}%`,
    });
  }
  if (portrait.face_error) caption.textContent = portrait.face_error;
  else if (portrait.face_box) caption.textContent = gettext("The face in the box is animated.");
  else caption.textContent = gettext("The face is searched when the check runs.");
  caption.className = portrait.face_error ? "bad" : "";
}

function showAudio(form, audio) {
  const figure = form.querySelector(".audio-preview");
  figure.hidden = !audio;
  if (!audio) return;
  const svg = figure.querySelector("svg");
  const levels = audio.waveform.length ? audio.waveform : [];
  const bars = levels.map((level, index) => {
    const height = Math.max(1, (40 * level) / 100);
    return `<rect x="${index}" y="${(40 - height) / 2}" width="0.7" height="${height}"></rect>`;
  });
  svg.innerHTML = bars.join("");
  figure.querySelector("figcaption").textContent = fill(gettext("Length: %(clock)s"), { clock: audio.clock });
}

function preflightList(body, upgradeUrl) {
  const list = document.createElement("ul");
  list.className = "checks";
  const add = (text, className) => {
    const item = document.createElement("li");
    item.textContent = text;
    if (className) item.className = className;
    list.append(item);
    return item;
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
  if (body.refusal) {
    const item = add(body.refusal.message, "bad");
    item.dataset.code = body.refusal.code;
    if (body.upgrade_would_help) {
      const link = document.createElement("a");
      link.href = upgradeUrl;
      link.textContent = gettext("See plans");
      item.append(" ", link);
    }
  }
  body.warnings.forEach((warning) => add(warning, "warn"));
  return list;
}
