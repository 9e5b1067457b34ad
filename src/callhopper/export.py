"""``callhopper export``: a campaign's results (each record with its status, attempts, last
outcome, owner and last agent) as CSV, streamed: the records are read a batch at a time and
written as they come, so a campaign of millions of records exports in bounded memory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from callhopper.clock import SystemClock
from callhopper.core.campaigns import CampaignService
from callhopper.domain.campaign_values import RESULT_COLUMNS
from callhopper.domain.csvtext import csv_lines
from callhopper.domain.errors import CallhopperError
from callhopper.services import build
from callhopper.settings import Settings
from callhopper.store.db import Database


def write_results(campaigns: CampaignService, campaign_id: int, out: TextIO) -> int:
    """Write the campaign's results as CSV to ``out``; returns the number of records."""
    lines = 0
    for line in csv_lines(RESULT_COLUMNS, (r.values() for r in campaigns.results(campaign_id))):
        out.write(line)
        lines += 1
    return lines - 1  # the header


def export_results(
    campaign_id: Annotated[int, typer.Argument(help="The campaign's id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(envvar="CALLHOPPER_DATABASE_URL", help="Database URL.")
    ] = None,
) -> None:
    """Write a campaign's results as CSV: every record with its status, attempts, last
    outcome and when, owner and last agent, streamed in bounded memory."""
    settings = Settings(database_url=database_url) if database_url else Settings()
    db = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    campaigns = build(settings, db, SystemClock()).campaigns
    try:
        if output is None:
            count = write_results(campaigns, campaign_id, sys.stdout)
        else:
            with output.open("w", newline="", encoding="utf-8") as out:
                count = write_results(campaigns, campaign_id, out)
    except CallhopperError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"{count} records of campaign {campaign_id} exported", err=True)
