// The agent workspace's live part. The page works without it (every form posts); this
// script adds the agent channel (a WebSocket): records pushed to the agent appear and get
// the focus, records taken back leave, My Campaigns follows the agent's state, campaign
// notices pop up, and a lost connection shows a banner, comes back by itself and resumes
// from the server's list of the agent's records (nothing lost, nothing twice). Also the
// countdowns, the callback's time in the agent's own zone, and the keyboard shortcuts.
// Every sentence it shows comes translated from the page (#script-text).
(() => {
  "use strict";
  const text = JSON.parse(document.getElementById("script-text").textContent);
  const records = document.getElementById("records");
  const banner = document.getElementById("connection");
  const notice = document.getElementById("notice");
  const lang = document.documentElement.lang;
  let lastCampaign = null;
  let focusAfterSwap = null;

  const fill = (template, values) =>
    template.replace(/%\((\w+)\)s/g, (_, name) => (name in values ? values[name] : ""));
  const keyOf = (campaign, record) => `record-${campaign}-${record}`;

  function notify(message, level) {
    const region = document.getElementById(level === "error" ? "messages-alert" : "messages-status");
    if (!region) return;
    const line = document.createElement("p");
    line.className = `notice ${level || "info"}`;
    line.textContent = message;
    region.replaceChildren(line);
  }

  // Parts of the page, as htmx asks for them (401: the session is over).
  async function part(url) {
    let response;
    try {
      response = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    } catch (error) {
      return null;
    }
    if (response.status === 401) {
      location.assign(response.headers.get("HX-Redirect") || "/signin?expired=1");
      return null;
    }
    return response.ok ? response.text() : null;
  }

  function fragment(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html;
    return holder.content;
  }

  function focusRecord(panel) {
    const heading = panel.querySelector("h2");
    if (heading) heading.focus();
  }

  // --- records on screen ---------------------------------------------------------------------

  async function showRecord(campaign, record, { focus = true, refresh = false } = {}) {
    const id = keyOf(campaign, record);
    const before = document.getElementById(id);
    if (before && !refresh) {
      if (focus) focusRecord(before);
      return;
    }
    const html = await part(`/workspace/campaigns/${campaign}/records/${record}`);
    if (html === null) return;
    const current = document.getElementById(id);
    if (current) {
      htmx.swap(current, html, { swapStyle: "outerHTML", swapDelay: 0, settleDelay: 0 });
    } else {
      const panel = fragment(html).firstElementChild;
      if (!panel) return;
      records.insertBefore(panel, records.querySelector(".empty"));
      htmx.process(panel);
    }
    const shown = document.getElementById(id);
    if (shown) {
      liven(shown);
      if (focus && !before) focusRecord(shown);
    }
  }

  function removeRecord(campaign, record, message) {
    const panel = document.getElementById(keyOf(campaign, record));
    if (!panel) return;
    const hadFocus = panel.contains(document.activeElement);
    panel.remove();
    if (message) notify(message, "warning");
    if (hadFocus) focusNext(campaign);
  }

  // After a record left: the next record on screen, else Get Record of its campaign.
  function focusNext(campaign) {
    const next = records.querySelector(".record");
    if (next) return focusRecord(next);
    const button = document.querySelector(
      `#campaign-${campaign} [data-shortcut="get-record"], #campaigns [data-shortcut="get-record"]`,
    );
    if (button) button.focus();
    else document.getElementById("campaigns-title")?.focus();
  }

  async function refreshCampaigns() {
    const html = await part("/workspace/campaigns");
    const current = document.getElementById("campaigns");
    if (html !== null && current) {
      const hadFocus = current.contains(document.activeElement) ? document.activeElement : null;
      const place = hadFocus && hadFocus.closest("tr[data-campaign]")?.dataset.campaign;
      htmx.swap(current, html, { swapStyle: "outerHTML", swapDelay: 0, settleDelay: 0 });
      if (place) {
        document.querySelector(`#campaign-${place} button`)?.focus();
      }
    }
  }

  // Resume: the server's list of the agent's records is the truth.
  async function resume() {
    const html = await part("/workspace/records");
    if (html === null) return;
    const now = fragment(html).firstElementChild;
    if (!now) return;
    const keep = new Set([...now.querySelectorAll(".record")].map((p) => p.id));
    for (const panel of [...records.querySelectorAll(".record")]) {
      if (!keep.has(panel.id)) removeRecord(panel.dataset.campaign, panel.dataset.record, text.endedOther);
    }
    for (const panel of [...now.querySelectorAll(".record")]) {
      if (!document.getElementById(panel.id)) {
        records.insertBefore(panel, records.querySelector(".empty"));
        htmx.process(panel);
        liven(panel);
        focusRecord(panel);
      }
    }
    refreshCampaigns();
  }

  // --- campaign notices ------------------------------------------------------------------------

  async function showNotice(campaign, event) {
    const html = await part(`/workspace/campaigns/${campaign}/notice?event=${encodeURIComponent(event)}`);
    if (html === null) return;
    notice.innerHTML = html;
    htmx.process(notice);
    if (!notice.open) notice.showModal();
    notice.querySelector("button.primary, button")?.focus();
  }
  notice.addEventListener("htmx:beforeRequest", () => notice.close());

  // --- the agent channel -----------------------------------------------------------------------

  let socket = null;
  let failures = 0;
  let connectedBefore = false;
  let lost = false;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/api/v1/agent/ws`);
    socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) {
        location.assign("/signin?expired=1");
        return;
      }
      if (event.code === 4403) return;
      if (!lost) {
        lost = true;
        banner.textContent = text.lost;
        banner.hidden = false;
      }
      failures += 1;
      setTimeout(connect, Math.min(5000, 250 * 2 ** failures));
    });
  }

  function receive(message) {
    const { campaign_id: campaign, record_id: record } = message;
    switch (message.type) {
      case "hello":
        failures = 0;
        if (lost) {
          lost = false;
          banner.hidden = true;
          notify(text.back, "success");
        }
        if (connectedBefore) resume();
        connectedBefore = true;
        break;
      case "delivery":
        if (message.reason === "auto_dial") {
          notify(fill(text.autoDialled, { number: message.number || "" }), "warning");
          showRecord(campaign, record, { focus: false, refresh: true });
        } else if (message.resumed) {
          showRecord(campaign, record, { focus: false }); // on screen already, as a rule
        } else {
          showRecord(campaign, record);
          refreshCampaigns();
        }
        break;
      case "delivery_ended":
        removeRecord(campaign, record, text.ended[message.reason] || text.endedOther);
        refreshCampaigns();
        break;
      case "state":
        refreshCampaigns();
        break;
      case "campaign":
        refreshCampaigns();
        showNotice(campaign, message.reason);
        break;
      default:
        break;
    }
  }

  setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send("ping");
  }, 25000);

  // --- htmx answers ----------------------------------------------------------------------------

  document.body.addEventListener("callhopper:show", (event) => {
    showRecord(event.detail.campaign, event.detail.record);
  });
  document.body.addEventListener("callhopper:ended", (event) => {
    focusAfterSwap = event.detail.campaign;
  });
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const where = event.target.closest("[data-campaign]");
    if (where) lastCampaign = where.dataset.campaign;
  });
  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (event.target.classList?.contains("record")) liven(event.target);
    if (focusAfterSwap !== null) {
      const campaign = focusAfterSwap;
      focusAfterSwap = null;
      focusNext(campaign);
    }
  });
  document.body.addEventListener("htmx:sendError", () => notify(text.unreachable, "error"));
  document.body.addEventListener("htmx:responseError", () => notify(text.failed, "error"));

  // --- countdowns and the callback's time --------------------------------------------------------

  function tick() {
    for (const clock of document.querySelectorAll(".countdown[data-deadline]")) {
      if (!clock.dataset.skew) clock.dataset.skew = String(Date.parse(clock.dataset.now) - Date.now());
      const now = Date.now() + Number(clock.dataset.skew);
      const left = Math.ceil((Date.parse(clock.dataset.deadline) - now) / 1000);
      if (left > 0) clock.textContent = fill(text[clock.dataset.text], { s: String(left) });
      else clock.textContent = clock.dataset.text === "autoDialIn" ? text.dialling : fill(text.acceptWithin, { s: "0" });
    }
  }

  // The offset of ``zone`` from UTC at the moment ``ms``, in milliseconds.
  function offset(ms, zone) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric",
    }).formatToParts(new Date(ms));
    const v = Object.fromEntries(parts.map((p) => [p.type, Number(p.value)]));
    return Date.UTC(v.year, v.month - 1, v.day, v.hour, v.minute, v.second) - ms;
  }

  // A wall-clock time of ``zone`` ("2026-03-02T10:30") as a moment.
  function inZone(local, zone) {
    const [date, time] = local.split("T");
    const [y, mo, d] = date.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    const wall = Date.UTC(y, mo - 1, d, h, mi);
    let moment = wall - offset(wall, zone);
    moment = wall - offset(moment, zone);
    return new Date(moment);
  }

  function yourTime(input) {
    const out = document.getElementById(input.getAttribute("aria-describedby"));
    if (!out) return;
    if (!input.value || !input.dataset.zone) {
      out.textContent = "";
      return;
    }
    const moment = inZone(input.value, input.dataset.zone);
    const shown = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(moment);
    out.textContent = fill(text.yourTime, { time: shown });
  }

  function liven(root) {
    root.querySelectorAll("input[type=datetime-local][data-zone]").forEach(yourTime);
    tick();
  }
  document.addEventListener("input", (event) => {
    if (event.target.matches?.("input[type=datetime-local][data-zone]")) yourTime(event.target);
  });

  // --- keyboard shortcuts ------------------------------------------------------------------------

  function currentRecord() {
    return document.activeElement?.closest?.(".record") || records.querySelector(".record");
  }

  function getRecordButton() {
    const buttons = [...document.querySelectorAll('#campaigns [data-shortcut="get-record"]')];
    const inRow = document.activeElement?.closest?.("tr[data-campaign]")?.dataset.campaign;
    const of = (campaign) => buttons.find((b) => b.closest("tr").dataset.campaign === String(campaign));
    return (inRow && of(inRow)) || (lastCampaign && of(lastCampaign)) || buttons[0];
  }

  document.addEventListener("keydown", (event) => {
    if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) return;
    const shortcuts = { KeyG: "get-record", KeyC: "call", KeyD: "done", KeyA: "accept" };
    const name = shortcuts[event.code];
    if (!name) return;
    const button = name === "get-record" ? getRecordButton() : currentRecord()?.querySelector(`[data-shortcut="${name}"]`);
    if (button) {
      event.preventDefault();
      button.click();
    }
  });

  // --- start -------------------------------------------------------------------------------------

  liven(document);
  setInterval(tick, 1000);
  const first = records.querySelector(".record");
  if (first && !location.hash) focusRecord(first);
  connect();

  // --- the browser phone, where the server configured one ------------------------------------
  // It answers the calls the dialer puts through to this agent by itself (data-auto-answer).
  const phone = document.getElementById("softphone");
  if (phone && window.CallhopperSoftphone) {
    window.callhopperPhone = window.CallhopperSoftphone.mount(phone);
  }
})();
