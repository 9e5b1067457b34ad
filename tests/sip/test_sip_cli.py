"""``callhopper telephony`` and the optional extra: what runs without pjsua2, what is said."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from callhopper.cli import app
from callhopper.clock import FrozenClock
from callhopper.core.dialer.dialing import Dialing
from callhopper.core.dispensing.dispenser import Dispenser
from callhopper.dialer_job import DialerJob, TelephonyUnavailable, sip_line
from callhopper.domain.calls import AgentLine
from callhopper.domain.campaigns import CampaignSettings
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.uow import SqlUnitOfWork
from callhopper.telephony import cli
from callhopper.telephony.sip.sounds import message_file, shipped
from callhopper.web.pages.workspace import softphone_of
from tests.conftest import T0
from tests.support import MakeUser


def test_nothing_but_the_worker_imports_pjsua2() -> None:
    code = (
        "import sys\n"
        "import callhopper.telephony.cli, callhopper.telephony.sip.adapter\n"
        "import callhopper.dialer_job, callhopper.services\n"
        "import callhopper.telephony.sip.amd\n"
        "assert 'pjsua2' not in sys.modules and 'webrtcvad' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name in ("pjsua2", "webrtcvad") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_check_names_the_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    without_the_extra(monkeypatch)
    monkeypatch.setattr(shutil, "which", lambda cmd: None)
    result = CliRunner().invoke(cli.app, ["check"])
    assert result.exit_code == 1
    assert "pip install 'callhopper[sip]'" in result.output
    assert "pjsua2-python, webrtcvad-wheels" in result.output
    assert "missing: kamailio (apt-get install kamailio kamailio-websocket-modules" in result.output
    assert "missing: rtpengine (apt-get install rtpengine-daemon)" in result.output
    result = CliRunner().invoke(cli.app, ["call", "+14155550100"])
    assert result.exit_code == 1
    assert "pip install 'callhopper[sip]'" in result.output


def test_config_writes_files_kamailio_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLHOPPER_SIP_DOMAIN", "agents.example.com")
    monkeypatch.setenv("CALLHOPPER_SIP_AGENT_PASSWORD", "letmein")
    monkeypatch.setenv("CALLHOPPER_SIP_TLS", "true")
    result = CliRunner().invoke(cli.app, ["config", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    kamailio_cfg = (tmp_path / "kamailio.cfg").read_text()
    assert 'alias="agents.example.com"' in kamailio_cfg
    assert "listen=tls:127.0.0.1:8443" in kamailio_cfg
    assert 'pv_www_authenticate("$td", "letmein", "0")' in kamailio_cfg
    assert "listen-ng = 127.0.0.1:2223" in (tmp_path / "rtpengine.conf").read_text()
    assert f"run kamailio: kamailio -f {tmp_path}/kamailio.cfg" in result.output
    if shutil.which("kamailio") is None:
        pytest.skip("kamailio is not installed: apt-get install -y kamailio")
    checked = subprocess.run(
        ["kamailio", "-c", "-f", str(tmp_path / "kamailio.cfg")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_the_dialer_will_not_start_on_sip_without_the_extra(
    monkeypatch: pytest.MonkeyPatch, db: Database, db_url: str, settings: Settings
) -> None:
    without_the_extra(monkeypatch)
    monkeypatch.setenv("CALLHOPPER_TELEPHONY", "sip")
    result = CliRunner().invoke(app, ["dialer", "--database-url", db_url])
    assert result.exit_code == 1
    assert "CALLHOPPER_TELEPHONY=sip" in result.output
    assert "pip install 'callhopper[sip]'" in result.output
    assert "pjsua2-python, webrtcvad-wheels" in result.output
    # serve's background jobs refuse the same way; the simulator needs nothing.
    dispenser = Dispenser(SqlUnitOfWork(db), FrozenClock(T0))
    with pytest.raises(TelephonyUnavailable, match="pip install"):
        DialerJob(settings.model_copy(update={"telephony": "sip"}), dispenser).check()
    DialerJob(settings, dispenser).check()


def test_the_dialer_calls_agents_where_the_workspace_phone_registers(
    db: Database, settings: Settings, make_user: MakeUser
) -> None:
    make_user("agent", user_id="jdoe")
    dialing = Dialing(Dispenser(SqlUnitOfWork(db), FrozenClock(T0)), "test")
    uow = SqlUnitOfWork(db)
    with uow.read() as tx:
        user = tx.users.user("jdoe")
        assert user is not None
        actor = tx.agents.actor(user.id)
    assert actor.id is not None
    phone = softphone_of(
        settings.model_copy(update={"softphone_ws_url": "ws://k:8088"}), actor, "en"
    )
    assert phone is not None
    line = sip_line(dialing, settings.sip_domain)(actor.id)
    assert line == AgentLine(str(actor.id), phone["sip_uri"])
    assert line.address == f"sip:jdoe@{settings.sip_domain}"


def test_the_default_abandon_message_names_a_recording_the_adapter_ships() -> None:
    """A campaign that sets no abandon message plays the shipped one (an 8 kHz 16-bit mono
    WAV, as the workers play); a path is played as given."""
    name = CampaignSettings().abandon_message
    assert name in shipped()
    path = Path(message_file(name))
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert 2.0 < w.getnframes() / 8000 < 8.0
    assert message_file("/srv/messages/sorry.wav") == "/srv/messages/sorry.wav"
    assert message_file("no-such-recording") == "no-such-recording"
