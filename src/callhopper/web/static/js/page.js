// Every page: tell the server the browser's time zone (a cookie), so that it writes times
// in the viewer's own zone.
(() => {
  "use strict";
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    return;
  }
  if (zone && !document.cookie.split("; ").includes("callhopper_tz=" + zone)) {
    document.cookie = "callhopper_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
  }
})();
