"""The browser softphone: headless Chromium registers to Kamailio over WebSocket, answers the
dialer's agent leg by itself, and talks with a SIPp customer through rtpengine (DTLS-SRTP
with ICE on the browser's side), audio compared both ways.

Chromium runs inside the test's network namespace (a wrapper enters it before starting the
browser); Playwright drives it over a pipe, which crosses namespaces.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from array import array
from pathlib import Path

import pytest

from callhopper.domain.calls import AgentLine, Answered, CallId, HungUp, Party
from callhopper.telephony.sip.adapter import AgentUnreachable
from callhopper.web import messages
from callhopper.web.i18n import translations
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.sip.audio import envelope_similarity, read_wav, rtp_audio, speak, write_wav
from tests.sip.conftest import Timeline, collect, dial, sip_telephony, trunk_config, wait_for
from tests.sip.harness import SPEAK_AFTER, AgentPeers, NetNamespace, Sipp, require
from tests.sip.test_sip_agents import AGENT_SAYS, CUSTOMER_SAYS
from tests.sip.test_sip_media import Capture

pytestmark = pytest.mark.slow

#: The same speech through a browser scores 0.6-0.9 on envelopes (lower on a loaded machine,
#: where the browser's capture and playout glitch), other speech 0.2-0.4, silence 0.
SAME_SPEECH = 0.5
STATIC = Path(__file__).parents[2] / "src" / "callhopper" / "web" / "static"
#: The phone's words in English and Japanese, as the workspace gives them to it.
MESSAGES = {
    name: (text, translations("ja").gettext(text)) for name, text in messages.SOFTPHONE.items()
}

#: Captures what the browser phone mounted on ``root`` hears, at 8 kHz, into
#: ``window.heard`` (16-bit samples).
HEAR = """
function hear(root) {
window.heard = [];
root.addEventListener("softphone:remote-stream", (e) => {
  const ctx = new AudioContext({ sampleRate: 8000 });
  const source = ctx.createMediaStreamSource(e.detail);
  const tap = ctx.createScriptProcessor(1024, 1, 1);
  const mute = ctx.createGain();
  mute.gain.value = 0;
  tap.onaudioprocess = (ev) => {
    for (const x of ev.inputBuffer.getChannelData(0)) {
      window.heard.push(Math.max(-32768, Math.min(32767, Math.round(x * 32768))));
    }
  };
  source.connect(tap);
  tap.connect(mute);
  mute.connect(ctx.destination);
});
}
"""
LISTEN = (
    HEAR
    + """
const root = document.getElementById("softphone");
hear(root);
window.phone = CallhopperSoftphone.mount(root);
"""
)


def softphone_page(path: Path, lang: str = "en") -> Path:
    words = {f"data-msg-{k}": v[0 if lang == "en" else 1] for k, v in MESSAGES.items()}
    attrs = " ".join(f'{k}="{v}"' for k, v in words.items())
    path.write_text(
        f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>softphone</title></head>
<body>
<section id="softphone" data-ws-url="ws://127.0.0.1:8088"
  data-sip-uri="sip:agent-7@callhopper.local" data-auto-answer="true" {attrs}></section>
<script src="{(STATIC / "vendor" / "jssip" / "jssip.min.js").as_uri()}"></script>
<script src="{(STATIC / "js" / "softphone.js").as_uri()}"></script>
<script>{LISTEN}</script>
</body></html>
"""
    )
    return path


def require_talking_browser() -> None:
    """Skip (fail under CI), saying why, where a browser cannot talk through the peers."""
    require("kamailio", "rtpengine", "dumpcap", "espeak-ng", "sox")
    reason = chromium_missing()
    if reason:
        require(reason)


def voices(workdir: Path) -> tuple[Path, Path]:
    """The customer's and the agent's speech (8 kHz WAV); SIPp's ``talk`` scenario says the
    customer's (``customer.wav``, u-law, in ``workdir``), the browser's fake microphone the
    agent's (``agent-48k.wav``)."""
    customer_speech = speak(CUSTOMER_SAYS, workdir / "customer-pcm.wav", voice="en-gb")
    subprocess.run(
        ["sox", str(customer_speech), "-e", "mu-law", str(workdir / "customer.wav")], check=True
    )
    agent_speech = speak(AGENT_SAYS, workdir / "agent.wav", pad_s=4.0)
    fake_mic = workdir / "agent-48k.wav"
    subprocess.run(["sox", str(agent_speech), "-r", "48000", str(fake_mic)], check=True)
    return customer_speech, agent_speech


def talking_browser_args(workdir: Path) -> list[str]:
    """Chromium's flags for a softphone that talks: the agent's speech (see :func:`voices`)
    as the microphone, sound without a click, WebRTC over loopback."""
    return [
        *CHROMIUM_ARGS,
        f"--use-file-for-fake-audio-capture={workdir / 'agent-48k.wav'}",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-file-access-from-files",
        # The namespace has nothing but loopback, which WebRTC skips by default.
        "--allow-loopback-in-peer-connection",
    ]


def chromium_in(ns: NetNamespace, workdir: Path) -> Path:
    wrapper = workdir / "chromium-in-namespace"
    prefix = " ".join(ns.prefix)
    wrapper.write_text(f'#!/bin/sh\nexec {prefix} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_browser_softphone_answers_and_talks_through_rtpengine(
    ns: NetNamespace, workdir: Path
) -> None:
    require_talking_browser()
    from playwright.async_api import async_playwright

    customer_speech, agent_speech = voices(workdir)
    AgentPeers(ns, workdir)
    sipp = Sipp(ns, "talk", workdir, port=5090, media_port=16000, variables=SPEAK_AFTER)
    capture = Capture(ns, workdir / "customer.pcap", 16000)
    page_file = softphone_page(workdir / "softphone.html")
    timeline = Timeline()
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=str(chromium_in(ns, workdir)),
                args=talking_browser_args(workdir),
            )
            page = await browser.new_page()
            await page.goto(page_file.as_uri())
            await page.wait_for_selector("#softphone[data-state=registered]", timeout=15000)
            seen["registered_text"] = await page.inner_text(".softphone-status")
            async with sip_telephony(ns, trunk_config(5090)) as telephony:
                collector = asyncio.create_task(collect(telephony, timeline))
                await telephony.originate(dial("w1"))
                await wait_for(lambda: any(isinstance(e, Answered) for e in timeline.of("w1")))
                await telephony.bridge(CallId("w1"), AgentLine("7", "agent-7"))
                seen["bridge_ms"] = telephony.bridge_times_ms[-1]
                await page.wait_for_selector("#softphone[data-state=connected]", timeout=5000)
                seen["connected_text"] = await page.inner_text(".softphone-status")
                await asyncio.sleep(2.0 + 2 * len(read_wav(customer_speech)) / 8000 + 1.0)
                await telephony.hang_up(CallId("w1"))
                await wait_for(lambda: timeline.ended("w1"))
            await collector
            await page.wait_for_selector("#softphone[data-state=registered]", timeout=5000)
            seen["alert_hidden"] = await page.eval_on_selector(
                ".softphone-alert", "el => el.hidden"
            )
            seen["heard"] = json.loads(await page.evaluate("JSON.stringify(window.heard)"))
            await browser.close()

    asyncio.run(scenario())
    capture.stop()
    sipp.stop()
    assert seen["registered_text"] == "Phone ready"
    assert seen["connected_text"] == "Connected"
    assert seen["alert_hidden"] is True
    assert seen["bridge_ms"] < 2000  # type: ignore[operator]
    hung_up = timeline.of("w1")[-1]
    assert isinstance(hung_up, HungUp) and hung_up.by is Party.ENGINE
    # The browser's jitter buffer stretches what it plays, and its echo canceller, noise
    # suppressor and gain control reshape what it sends (as they should for a headset): each
    # side must hear the other's words at their pace, compared on loudness envelopes.
    heard = array("h", seen["heard"])  # type: ignore[arg-type]
    write_wav(workdir / "heard.wav", heard)  # kept for a look when the test fails
    assert envelope_similarity(read_wav(customer_speech), heard) > SAME_SPEECH
    assert envelope_similarity(read_wav(agent_speech), rtp_audio(capture.path, 16000)) > SAME_SPEECH


def test_browser_softphone_says_what_went_wrong_in_japanese(
    ns: NetNamespace, workdir: Path
) -> None:
    """The microphone refused (no permission), then the registration lost (Kamailio stops):
    each gets its message, in the page's language."""
    require("kamailio", "rtpengine")
    reason = chromium_missing()
    if reason:
        require(reason)
    from playwright.async_api import async_playwright

    peers = AgentPeers(ns, workdir)
    sipp = Sipp(ns, "answer", workdir, port=5090, media_port=16000)
    page_file = softphone_page(workdir / "softphone.html", lang="ja")
    timeline = Timeline()
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with async_playwright() as p:
            # Without --use-fake-ui-for-media-stream, nobody grants the microphone.
            args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
            browser = await p.chromium.launch(
                executable_path=str(chromium_in(ns, workdir)),
                args=[
                    *args,
                    "--allow-file-access-from-files",
                    "--allow-loopback-in-peer-connection",
                ],
            )
            page = await browser.new_page()
            await page.goto(page_file.as_uri())
            await page.wait_for_selector("#softphone[data-state=registered]", timeout=15000)
            seen["registered"] = await page.inner_text(".softphone-status")
            async with sip_telephony(ns, trunk_config(5090)) as telephony:
                collector = asyncio.create_task(collect(telephony, timeline))
                await telephony.originate(dial("j1"))
                await wait_for(lambda: any(isinstance(e, Answered) for e in timeline.of("j1")))
                with pytest.raises(AgentUnreachable):
                    await telephony.bridge(CallId("j1"), AgentLine("7", "agent-7"))
                await page.wait_for_selector(".softphone-alert:not([hidden])", timeout=5000)
                seen["mic"] = await page.inner_text(".softphone-alert")
                await telephony.hang_up(CallId("j1"))
                await wait_for(lambda: timeline.ended("j1"))
            await collector
            peers.kamailio.terminate()
            await page.wait_for_selector("#softphone[data-state=unregistered]", timeout=10000)
            seen["lost"] = await page.inner_text(".softphone-alert")
            await browser.close()

    asyncio.run(scenario())
    sipp.stop()
    assert seen["registered"] == MESSAGES["registered"][1]
    assert seen["mic"] == MESSAGES["mic-denied"][1]
    assert seen["lost"] == MESSAGES["registration-lost"][1]
