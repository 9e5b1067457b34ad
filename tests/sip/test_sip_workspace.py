"""A real call in the real agent workspace: ``callhopper serve`` with the SIP adapter
(``CALLHOPPER_TELEPHONY=sip``) and its browser phone (``CALLHOPPER_SOFTPHONE_WS_URL``), the
agent signed in to ``/`` in headless Chromium with fake media devices, Kamailio and
rtpengine from the project's templates, SIPp answering as the customer; on SQLite and
PostgreSQL.

The agent's phone registers (with the agents' password), the agent gets Ready on voice in
a progressive campaign, the engine dials the one record, SIPp answers, the engine bridges
the answer to the agent's phone, which answers by itself, and the record opens connected.
Audio flows both ways through rtpengine: SIPp receives the agent's words as RTP, and the
browser's WebRTC statistics and recording hold the customer's. The agent hangs up in the
page, wraps up and clicks Done.

Everything runs inside the test's network namespace (the server too, with a relay that
lets the test process reach its HTTP port through a Unix socket, and PostgreSQL reached
through its Unix socket).
"""

from __future__ import annotations

import json
import re
import sys
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from callhopper.demo import DEMO_PASSWORD, DOMAIN
from callhopper.web import messages as m
from tests.conftest import BACKENDS, PostgresTemplates
from tests.e2e.server import LiveServer, cli
from tests.sip.audio import envelope_similarity, read_wav, rtp_audio, write_wav
from tests.sip.harness import SPEAK_AFTER, AgentPeers, NetNamespace, Sipp
from tests.sip.test_sip_browser import (
    HEAR,
    MESSAGES,
    SAME_SPEECH,
    chromium_in,
    require_talking_browser,
    talking_browser_args,
    voices,
)
from tests.sip.test_sip_media import Capture

pytestmark = pytest.mark.slow

#: The server's port inside the namespace.
HTTP_PORT = 8170
#: The customer's phone (the trunk) and where it receives RTP.
TRUNK_PORT, CUSTOMER_RTP = 5090, 16000
AGENT = "sipagent"
AGENTS_PASSWORD = "agents-secret"
#: The engine's idle look at the floor comes every 5 s; the call then takes a second or two.
CALL_WAIT_MS = 30_000
PG_SOCKET_DIR = Path("/var/run/postgresql")

#: Installed before the page's own scripts: capture what the phone hears once it mounts.
LISTEN_IN_WORKSPACE = (
    HEAR
    + """
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("softphone");
  if (root) hear(root);
});
"""
)
#: The WebRTC statistics of the audio the browser receives.
INBOUND_STATS = """async () => {
  const pc = window.callhopperPhone.session.connection;
  const stats = await pc.getStats();
  for (const s of stats.values()) {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      return {bytes: s.bytesReceived, packets: s.packetsReceived,
              energy: s.totalAudioEnergy, level: s.audioLevel};
    }
  }
  return null;
}"""


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path: Path, pg_templates: PostgresTemplates | None
) -> Iterator[tuple[str, str]]:
    """A fresh database: its URL from the test process, and from inside the namespace
    (PostgreSQL through its Unix socket: its TCP port is outside)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'callhopper.db'}"
        yield url, url
        return
    assert pg_templates is not None
    port = make_url(pg_templates.admin_url).port or 5432
    if not (PG_SOCKET_DIR / f".s.PGSQL.{port}").exists():
        pytest.skip(f"PostgreSQL has no Unix socket in {PG_SOCKET_DIR} for the namespace")
    name = pg_templates.create()
    url = pg_templates.url_for(name)
    inside = make_url(url).set(host="", query={"host": str(PG_SOCKET_DIR)})
    yield url, inside.render_as_string(hide_password=False)
    pg_templates.drop(name)


def serve_in(ns: NetNamespace, workdir: Path, database: tuple[str, str]) -> LiveServer:
    """``callhopper serve`` on the demo's data, inside ``ns``, dialling over SIP, with the
    browser phone; the test process reaches it through a relay's Unix socket."""
    outside, inside = database
    socket_path = workdir / "http.sock"
    ns.popen([sys.executable, "-m", "tests.sip.relay", str(socket_path), str(HTTP_PORT)])
    deadline = time.monotonic() + 15
    while not socket_path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the HTTP relay did not start")
        time.sleep(0.05)
    live = LiveServer(
        database_url=inside,
        log_path=workdir / "server.log",
        port=HTTP_PORT,
        launcher=ns.prefix,
        transport=httpx.HTTPTransport(uds=str(socket_path)),
        extra_env={
            "CALLHOPPER_TELEPHONY": "sip",
            "CALLHOPPER_SIP_TRUNK_HOST": "127.0.0.1",
            "CALLHOPPER_SIP_TRUNK_PORT": str(TRUNK_PORT),
            "CALLHOPPER_SIP_WORKERS": "1",
            "CALLHOPPER_SOFTPHONE_WS_URL": "ws://127.0.0.1:8088",
            "CALLHOPPER_SIP_AGENT_PASSWORD": AGENTS_PASSWORD,
        },
    )
    cli("demo", "--no-serve", env={**live.env, "CALLHOPPER_DATABASE_URL": outside})
    live.start()
    return live


def test_an_agent_talks_with_a_customer_in_the_workspace_and_wraps_up(
    ns: NetNamespace, workdir: Path, database: tuple[str, str]
) -> None:
    require_talking_browser()
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.workspace_setup import Admin

    customer_speech, agent_speech = voices(workdir)
    AgentPeers(ns, workdir, agent_password=AGENTS_PASSWORD)
    sipp = Sipp(
        ns, "talk", workdir, port=TRUNK_PORT, media_port=CUSTOMER_RTP, variables=SPEAK_AFTER
    )
    capture = Capture(ns, workdir / "customer.pcap", CUSTOMER_RTP)
    live = serve_in(ns, workdir, database)
    admin = Admin(live.url, transport=live.transport)
    admin.agent(AGENT)
    queue_id = admin.queue("SIP floor", [AGENT])
    campaign_id = admin.campaign(
        "Real calls", queue_id, "progressive", rows=1, caller_ids=["+14155550100"]
    )
    admin.start(campaign_id)
    seen: dict[str, Any] = {}
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium_in(ns, workdir)), args=talking_browser_args(workdir)
            )
            page = browser.new_page(base_url=live.url)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.add_init_script(LISTEN_IN_WORKSPACE)
            page.goto("/")
            page.get_by_label("Email").fill(f"{AGENT}@{DOMAIN}")
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page).to_have_url(re.compile(r"/workspace$"))
            phone = page.locator("#softphone")
            expect(phone).to_have_attribute("data-state", "registered", timeout=15_000)
            seen["registered"] = phone.locator(".softphone-status").inner_text()
            row = page.locator(f"#campaign-{campaign_id}")
            row.get_by_role("button", name="Log in", exact=True).click()
            expect(page.locator("#messages")).to_contain_text("Real calls")
            voice = page.locator("#campaigns .channels li").filter(has_text="Voice")
            voice.get_by_role("button", name="Set Ready", exact=True).click()
            record = page.locator(f'section.record[data-campaign="{campaign_id}"]')
            expect(record).to_have_count(1, timeout=CALL_WAIT_MS)
            expect(record.locator(".connected")).to_be_visible()
            expect(phone).to_have_attribute("data-state", "connected", timeout=10_000)
            seen["connected"] = phone.locator(".softphone-status").inner_text()
            # The customer starts talking 2 s after answering, the agent at once: let each
            # say their words twice over.
            time.sleep(2.0 + 2 * len(read_wav(customer_speech)) / 8000 + 1.0)
            seen["stats"] = page.evaluate(INBOUND_STATS)
            phone.get_by_role("button", name=MESSAGES["hangup"][0], exact=True).click()
            expect(phone).to_have_attribute("data-state", "registered", timeout=10_000)
            seen["heard"] = json.loads(page.evaluate("JSON.stringify(window.heard)"))
            record.get_by_label("Wrap-up code").select_option("sale")
            record.get_by_role("button", name="Done", exact=True).click()
            expect(page.locator("#messages")).to_contain_text(m.DONE)
            expect(record).to_have_count(0)
            browser.close()
        abandons = admin.ok("GET", f"/campaigns/{campaign_id}/abandon-rate")
    finally:
        admin.close()
        live.stop()
        capture.stop()
        sipp.stop()
    assert errors == []
    assert seen["registered"] == "Phone ready" and seen["connected"] == "Connected"
    byes = [
        msg
        for msg in sipp.messages()
        if msg.direction == "received" and msg.first_line.startswith("BYE ")
    ]
    assert len(sipp.invites()) == 1 and len(byes) == 1  # one call, ended from the page
    # On record: one call answered by a person, connected to the agent, not abandoned.
    assert (abandons["answered_by_person"], abandons["abandoned"]) == (1, 0)
    # The browser received the customer's audio (RTP through rtpengine, decoded, loud
    # enough), and its recording has the customer's words at their pace; SIPp received the
    # agent's words.
    stats = seen["stats"]
    assert stats is not None and stats["packets"] > 100 and stats["energy"] > 0, stats
    heard = array("h", seen["heard"])
    write_wav(workdir / "heard.wav", heard)  # kept for a look when the test fails
    assert envelope_similarity(read_wav(customer_speech), heard) > SAME_SPEECH
    received = rtp_audio(capture.path, CUSTOMER_RTP)
    assert envelope_similarity(read_wav(agent_speech), received) > SAME_SPEECH
