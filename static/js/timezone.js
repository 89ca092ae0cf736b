// Tells the server the browser's time zone (an IANA name such as "Asia/Shanghai") in the `tz` cookie, so pages show
// times in it; a time zone saved in the account's settings wins over it. A file of its own: no inline scripts (CSP).
(() => {
  let zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (ignored) {
    return; // no Intl time zone support: the server keeps UTC
  }
  // IANA names need no escaping in a cookie; anything else is not a time zone and is not sent.
  if (!zone || !/^[A-Za-z0-9_+\-/]+$/.test(zone)) return;
  const current = document.cookie.split("; ").find((cookie) => cookie.startsWith("tz="));
  if (current === `tz=${zone}`) return;
  const secure = window.location.protocol === "https:" ? "; secure" : "";
  document.cookie = `tz=${zone}; path=/; max-age=${60 * 60 * 24 * 365}; samesite=lax${secure}`;
})();
