// Small progressive enhancements; every page works without JavaScript.
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
    let message = "The upload failed. Check your connection and try again.";
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
