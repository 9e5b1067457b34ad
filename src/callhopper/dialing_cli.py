"""The dialing engine's commands: ``callhopper dialer`` (the engine in its own process) and
``callhopper simulate`` (a simulated campaign day through the real engine)."""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from callhopper.cli_common import DatabaseUrl, console, open_database, settings_from
from callhopper.clock import SystemClock
from callhopper.dialer_job import TelephonyUnavailable
from callhopper.domain.campaigns import DialingMode
from callhopper.services import build
from callhopper.simulation.chart import day_chart
from callhopper.simulation.floor import create_floor
from callhopper.simulation.run import DayPlan, DayReport, simulate_day
from callhopper.store.db import Database
from callhopper.store.migrate import upgrade
from callhopper.store.uow import SqlUnitOfWork
from callhopper.telephony.simulator import Constant, LogNormal, SimulatorParams

#: A simulated day starts at 09:00 in New York, where its contacts live (a Monday).
SIMULATION_START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def add_dialing_commands(app: typer.Typer) -> None:
    """Register the commands of this module on the command line's application."""
    app.command()(dialer)
    app.command()(simulate)


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


def simulate(
    agents: Annotated[int, typer.Option(min=1, max=1000, help="Simulated agents.")] = 50,
    records: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Records of the list.")
    ] = 20000,
    mode: Annotated[str, typer.Option(help="predictive or progressive.")] = "predictive",
    hours: Annotated[float, typer.Option(min=0.05, max=24, help="Length of the day.")] = 8.0,
    answer_rate: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of calls a person answers.")
    ] = 0.15,
    machine_rate: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of calls a machine answers.")
    ] = 0.25,
    talk: Annotated[float, typer.Option(min=1, help="Mean talk time, seconds.")] = 150.0,
    wrap: Annotated[float, typer.Option(min=0, help="Wrap-up time, seconds.")] = 20.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated network.")] = 0,
    chart: Annotated[Path, typer.Option(help="Where the chart goes (self-contained HTML).")] = Path(
        "simulate-chart.html"
    ),
) -> None:
    """Run a campaign day on a fresh temporary database through the real dialing engine,
    on the telephony simulator in simulated time; print a report and write a chart."""
    try:
        dialing_mode = DialingMode(mode)
        network = SimulatorParams(
            person_share=answer_rate,
            machine_share=machine_rate,
            talk_time=LogNormal(mean_s=talk, cv=1.0),
            wrap_time=Constant(wrap),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not dialing_mode.dials_by_itself:
        raise typer.BadParameter("--mode is predictive or progressive")
    with tempfile.TemporaryDirectory(prefix="callhopper-simulate-") as folder:
        url = f"sqlite:///{Path(folder) / 'simulate.db'}"
        db = Database(url)
        upgrade(db)
        floor = create_floor(
            SqlUnitOfWork(db), SIMULATION_START, agents=agents, records=records,
            mode=dialing_mode, seed=seed,
        )  # fmt: skip
        db.dispose()
        console.print(f"simulating {hours:g} h of {agents} agents, {records} records, {mode}…")
        started = time.monotonic()
        report = simulate_day(url, floor, DayPlan(hours, network, seed), SIMULATION_START)
    summary = report_lines(report)
    for name, value in summary:
        console.print(f"{name:<34}{value}")
    console.print(f"{'(computed in)':<34}{time.monotonic() - started:.0f} s")
    title = f"callhopper simulate: {agents} agents, {mode}, {hours:g} h, seed {seed}"
    chart.write_text(day_chart(report, title, summary), encoding="utf-8")
    console.print(f"chart: {chart}")


def report_lines(report: DayReport) -> list[tuple[str, str]]:
    """The figures of a simulated day, as ``simulate`` prints them."""
    return [
        ("dials", f"{report.dialled}"),
        ("answered by a person", f"{report.answered_person}"),
        ("answered by a machine", f"{report.answered_machine}"),
        ("connected to an agent", f"{report.connected}"),
        ("abandoned", f"{report.abandoned}"),
        ("abandon rate", f"{100 * report.abandon_rate:.2f}%"),
        ("occupancy", f"{100 * report.occupancy:.1f}%"),
        ("talk minutes per agent-hour", f"{report.talk_minutes_per_agent_hour:.1f}"),
        ("mean agent wait", f"{report.mean_wait_s:.1f} s"),
    ]
