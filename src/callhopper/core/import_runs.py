"""Imports that run in the background, for the console: a CSV file saved on disk is
appended to a list in a thread of its own, while the page that started it asks how far it
got (bytes read out of the file's size). The import itself is
:meth:`~callhopper.core.lists.ListService.import_rows`, the same one the API runs, in one
transaction: its records, its import job and its rejections appear together when it ends.

A run is known to the process that started it, and only to the user who started it; once
finished it stays known for :data:`KEEP_FINISHED` so that the page can show its report.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from callhopper.core.lists import ImportOutcome, ListService
from callhopper.domain.actors import Actor
from callhopper.domain.csvtext import numbered_rows, open_text, read_header
from callhopper.domain.errors import CallhopperError, NotFound
from callhopper.ports import Clock

#: How long a finished run is kept for its page.
KEEP_FINISHED = timedelta(hours=1)
#: Rows a preview shows.
PREVIEW_ROWS = 5


@dataclass(frozen=True)
class CsvPreview:
    """The header and first rows of a CSV file, as an import will read them."""

    delimiter: str
    header: list[str]
    rows: list[list[str]]


def preview_csv(stream: IO[bytes], rows: int = PREVIEW_ROWS) -> CsvPreview:
    """The header and the first ``rows`` rows of a CSV byte stream (the caller closes it);
    :class:`~callhopper.domain.errors.InvalidInput` when it has no readable header."""
    text = open_text(stream)
    try:
        delimiter, header = read_header(text)
        first: list[list[str]] = []
        for _line, values in numbered_rows(text, delimiter):
            first.append(values)
            if len(first) >= rows:
                break
        return CsvPreview(delimiter, [h.strip() for h in header], first)
    finally:
        text.detach()


@dataclass
class ImportRun:
    """One import in the background: how far it read, and how it ended."""

    token: str
    list_id: int
    actor_id: int | None
    source: str
    size: int
    started_at: datetime
    read: int = 0
    finished_at: datetime | None = None
    outcome: ImportOutcome | None = None
    #: Why the file as a whole was refused (nothing was stored).
    error: CallhopperError | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def percent(self) -> int:
        """Per cent of the file read (100 once finished)."""
        if self.finished:
            return 100
        if self.size <= 0:
            return 0
        return min(99, self.read * 100 // self.size)


class ImportRunner:
    """Starts background imports and answers how each is going."""

    def __init__(self, lists: ListService, clock: Clock) -> None:
        self.lists = lists
        self.clock = clock
        self._runs: dict[str, ImportRun] = {}
        self._lock = threading.Lock()

    def start(
        self,
        actor: Actor,
        list_id: int,
        path: str,
        *,
        source: str,
        mapping: Mapping[str, str | None] | None = None,
        on_duplicate: str = "reject",
    ) -> ImportRun:
        """Import the CSV file at ``path`` into the list in a new thread; the file is
        deleted when the import ends."""
        self.lists.get(list_id)  # NotFound now, rather than in the thread
        run = ImportRun(
            token=secrets.token_urlsafe(16),
            list_id=list_id,
            actor_id=actor.id,
            source=source,
            size=os.path.getsize(path),
            started_at=self.clock.now(),
        )
        with self._lock:
            self._forget_old()
            self._runs[run.token] = run
        thread = threading.Thread(
            target=self._run,
            args=(run, actor, path, dict(mapping) if mapping else None, on_duplicate),
            name=f"import-{list_id}",
            daemon=True,
        )
        thread.start()
        return run

    def get(self, actor: Actor, token: str) -> ImportRun:
        """A run the actor started (:class:`NotFound` for anybody else's)."""
        with self._lock:
            run = self._runs.get(token)
        if run is None or run.actor_id != actor.id:
            raise NotFound("no such import in progress", field="import")
        return run

    def _run(
        self,
        run: ImportRun,
        actor: Actor,
        path: str,
        mapping: dict[str, str | None] | None,
        on_duplicate: str,
    ) -> None:
        def progress(read: int) -> None:
            run.read = read

        try:
            with open(path, "rb") as stream:
                run.outcome = self.lists.import_rows(
                    actor,
                    run.list_id,
                    source=run.source,
                    csv_stream=stream,
                    mapping=mapping,
                    on_duplicate=on_duplicate,
                    on_progress=progress,
                )
        except CallhopperError as exc:
            run.error = exc
        finally:
            run.finished_at = self.clock.now()
            try:
                os.remove(path)
            except FileNotFoundError:
                pass

    def _forget_old(self) -> None:
        now = self.clock.now()
        for token, run in list(self._runs.items()):
            if run.finished_at is not None and now - run.finished_at > KEEP_FINISHED:
                del self._runs[token]
