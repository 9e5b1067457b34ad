"""``callhopper telephony``: check the SIP side, write and run its peers, place a test call.

The dialer starts its SIP worker processes itself (they are its children, so that their
calls end with it); these commands are for setting up and trying the SIP side:

* ``check`` says what is installed and what is missing;
* ``config`` writes the Kamailio and rtpengine configuration with the settings filled in;
* ``peers`` writes it and runs both in the foreground;
* ``call`` places one call through the trunk and bridges it to an agent or plays a message.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer

from callhopper.domain.calls import AgentLine, Answered, CallId, DialRequest, HungUp, Unanswered
from callhopper.telephony.sip.adapter import SipTelephony
from callhopper.telephony.sip.available import (
    INSTALL_EXTRA,
    PEER_COMMANDS,
    missing_modules,
    missing_peers,
)
from callhopper.telephony.sip.deploy import commands, write
from callhopper.telephony.sip.settings import SipSettings

app = typer.Typer(
    help="Real calls over SIP: check the set-up, run Kamailio and rtpengine, try a call. "
    "Settings come from CALLHOPPER_SIP_* (see docs/telephony.md).",
    no_args_is_help=False,
    invoke_without_command=True,
)


def missing() -> tuple[list[str], list[str]]:
    """The absent Python packages (the ``sip`` extra) and the absent peers (apt packages)."""
    return missing_modules(), missing_peers()


@app.callback()
def main(ctx: typer.Context) -> None:
    """Without a command: the same as ``check``."""
    if ctx.invoked_subcommand is None:
        check()


@app.command()
def check() -> None:
    """Say what the SIP adapter and its peers need and which of it is missing."""
    modules, peers = missing()
    if modules:
        typer.echo(
            f"The SIP adapter is not installed (missing: {', '.join(modules)}): "
            f"{INSTALL_EXTRA}. The simulator works without it."
        )
    else:
        typer.echo("SIP adapter: installed (pjsua2, webrtcvad).")
    for peer in peers:
        typer.echo(f"missing: {peer}")
    if not peers:
        typer.echo("Peers: kamailio, rtpengine, sipp and baresip are installed.")
    if modules:
        raise typer.Exit(1)


OutDir = Annotated[Path, typer.Option("--out", help="Directory for the configuration files.")]


@app.command()
def config(out: OutDir = Path("telephony")) -> None:
    """Write kamailio.cfg and rtpengine.conf from CALLHOPPER_SIP_* and print how to run them."""
    settings = SipSettings()
    peer = settings.peer_settings(run_dir=str(out.resolve()))
    for name, path in write(peer, out).items():
        typer.echo(f"wrote {name}: {path}")
    for name, argv in commands(peer, out.resolve()).items():
        typer.echo(f"run {name}: {' '.join(argv)}")


@app.command()
def peers(out: OutDir = Path("telephony")) -> None:
    """Write the configuration and run rtpengine and Kamailio until interrupted."""
    absent = [cmd for cmd in ("kamailio", "rtpengine") if shutil.which(cmd) is None]
    if absent:
        typer.echo(
            f"missing: {', '.join(absent)} "
            f"(apt-get install {' '.join(PEER_COMMANDS[c] for c in absent)})"
        )
        raise typer.Exit(1)
    settings = SipSettings()
    peer = settings.peer_settings(run_dir=str(out.resolve()))
    write(peer, out)
    argv = commands(peer, out.resolve())
    procs = [subprocess.Popen(argv["rtpengine"]), subprocess.Popen(argv["kamailio"])]
    typer.echo(
        f"Kamailio: sip:{peer.listen_ip}:{peer.sip_port}, ws://{peer.listen_ip}:{peer.ws_port}; "
        f"agents register as sip:<agent>@{peer.domain}. Ctrl-C stops both."
    )
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


@app.command()
def call(
    number: Annotated[str, typer.Argument(help="The number to call, in E.164.")],
    caller_id: Annotated[
        str, typer.Option(help="The number shown to the customer.")
    ] = "+10000000000",
    agent: Annotated[
        str | None, typer.Option(help="Bridge the answered call to this agent (sip:… or a user).")
    ] = None,
    message: Annotated[
        Path | None, typer.Option(help="Play this WAV file (8 kHz mono) and hang up.")
    ] = None,
    ring_timeout: Annotated[float, typer.Option(help="Seconds to let it ring.")] = 25.0,
    talk: Annotated[float, typer.Option(help="Seconds to stay bridged before hanging up.")] = 60.0,
) -> None:
    """Place one call through the trunk (CALLHOPPER_SIP_TRUNK_*) and print its events."""
    modules, _ = missing()
    if modules:
        typer.echo(
            "The SIP adapter is not installed: pip install 'callhopper[sip]' "
            f"({', '.join(modules)})"
        )
        raise typer.Exit(1)
    outcome = asyncio.run(
        _call(SipSettings(), number, caller_id, agent, message, ring_timeout, talk)
    )
    typer.echo(outcome)


async def _call(
    settings: SipSettings,
    number: str,
    caller_id: str,
    agent: str | None,
    message: Path | None,
    ring_timeout: float,
    talk: float,
) -> str:
    telephony = SipTelephony(settings.worker_config(), workers=1)
    await telephony.start()
    call_id = CallId(uuid.uuid4().hex)
    try:
        await telephony.originate(DialRequest(call_id, number, caller_id, ring_timeout))
        async for event in telephony.events():
            typer.echo(f"{event.at:%H:%M:%S.%f} {type(event).__name__} {_details(event)}")
            if isinstance(event, Answered):
                if agent:
                    await telephony.bridge(call_id, AgentLine(agent, agent))
                    typer.echo(f"bridged to {agent} in {telephony.bridge_times_ms[-1]} ms")
                    asyncio.get_running_loop().call_later(
                        talk, lambda: asyncio.ensure_future(telephony.hang_up(call_id))
                    )
                elif message:
                    await telephony.play_and_hang_up(call_id, str(message.resolve()))
                else:
                    await telephony.hang_up(call_id)
            if isinstance(event, Unanswered | HungUp):
                return f"call ended: {_details(event)}"
    finally:
        await telephony.close()
    return "call ended"


def _details(event: object) -> str:
    if isinstance(event, Unanswered):
        return f"{event.outcome.value} (SIP {event.code})"
    if isinstance(event, HungUp):
        return f"hung up by {event.by.value}"
    if isinstance(event, Answered):
        return f"by {event.by.value}"
    return ""
