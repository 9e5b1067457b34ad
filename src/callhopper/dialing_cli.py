"""The dialing engine's commands: ``callhopper dialer`` (the engine in its own process) and
``callhopper simulate`` (a simulated campaign day through the real engine)."""

from __future__ import annotations

import threading

import typer

from callhopper.cli_common import DatabaseUrl, console, open_database, settings_from
from callhopper.clock import SystemClock
from callhopper.dialer_job import TelephonyUnavailable
from callhopper.services import build


def add_dialing_commands(app: typer.Typer) -> None:
    """Register the commands of this module on the command line's application."""
    app.command()(dialer)


def dialer(database_url: DatabaseUrl = None) -> None:
    """Run the dialing engine of progressive and predictive campaigns, until Ctrl-C.

    Run as many as you like beside `serve` processes (start those with
    CALLHOPPER_RUN_DIALER=false for larger deployments): a lease row in the database makes
    exactly one process pace each campaign, and another takes a campaign over within
    CALLHOPPER_DIALER_LEASE_S seconds when that process dies.
    """

    settings = settings_from(database_url)
    with open_database(settings) as db:
        services = build(settings, db, SystemClock())
        try:
            services.dialer.check()
        except TelephonyUnavailable as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        services.bus.start()
        job = (services.dialer.run_forever, services.dialer.stop)
        thread = threading.Thread(target=job[0], name="dialer", daemon=True)
        thread.start()
        console.print(f"dialer {services.dialer.holder} running; Ctrl-C stops it")
        try:
            while thread.is_alive():
                thread.join(timeout=1.0)
        except KeyboardInterrupt:
            pass
        finally:
            job[1]()
            thread.join(timeout=60)
            services.bus.stop()
            services.close()
