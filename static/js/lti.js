// Pages inside a course platform's frame (portal/lti/). The deep-linking answer posts itself back to the platform;
// the sign-in page moves on once the teacher has confirmed in the other window. Without JavaScript, both have a
// button or link that does the same.
document.addEventListener("DOMContentLoaded", () => {
  const answer = document.getElementById("deep-link-answer");
  if (answer) answer.submit();

  const waiting = document.querySelector("[data-signed-in-url]");
  if (!waiting) return;
  const check = () =>
    fetch(waiting.dataset.signedInUrl, { credentials: "same-origin" })
      .then((response) => response.json())
      .then((status) => (status.signed_in ? window.location.reload() : setTimeout(check, 3000)))
      .catch(() => setTimeout(check, 10000));
  setTimeout(check, 3000);
});
