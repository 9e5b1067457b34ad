"""What the SIP adapter needs on this machine, and which of it is absent."""

from __future__ import annotations

import importlib.util
import shutil

#: The ``sip`` extra's modules, by the package that provides each.
PYTHON_MODULES = {"pjsua2": "pjsua2-python", "webrtcvad": "webrtcvad-wheels"}
#: The peers' commands, by the apt packages that provide each.
PEER_COMMANDS = {
    "kamailio": "kamailio kamailio-websocket-modules kamailio-tls-modules",
    "rtpengine": "rtpengine-daemon",
    "sipp": "sip-tester (only to play a customer in tests)",
    "baresip": "baresip-core (only as a softphone in tests)",
}
#: Said wherever the extra is missing.
INSTALL_EXTRA = "pip install 'callhopper[sip]' (wheels exist for CPython 3.8-3.12 on x86_64 Linux)"


def missing_modules() -> list[str]:
    """The absent Python packages of the ``sip`` extra."""
    return [pkg for mod, pkg in PYTHON_MODULES.items() if importlib.util.find_spec(mod) is None]


def missing_peers() -> list[str]:
    """The absent peers, each with the apt packages that provide it."""
    return [
        f"{cmd} (apt-get install {pkg})"
        for cmd, pkg in PEER_COMMANDS.items()
        if shutil.which(cmd) is None
    ]
