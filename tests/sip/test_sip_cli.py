"""``callhopper telephony`` and the optional extra: what runs without pjsua2, what is said."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from callhopper.telephony import cli


def test_nothing_but_the_worker_imports_pjsua2() -> None:
    code = (
        "import sys\n"
        "import callhopper.telephony.cli, callhopper.telephony.sip.adapter\n"
        "import callhopper.telephony.sip.amd\n"
        "assert 'pjsua2' not in sys.modules and 'webrtcvad' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_check_names_the_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name in ("pjsua2", "webrtcvad") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
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
