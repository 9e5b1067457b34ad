"""CSV files sent to import endpoints: as the raw body, or as a multipart form's ``file``."""

from __future__ import annotations

from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import IO

from fastapi import HTTPException, Request, status
from starlette.datastructures import UploadFile

from callhopper.domain.errors import InvalidInput

#: A raw body up to this size stays in memory; a larger one spills to a temporary file.
SPOOL_MAX_BYTES = 16 * 1024 * 1024
CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/octet-stream")


@dataclass
class CsvUpload:
    """The file's bytes (close it when done), its name, and the form's other text fields."""

    stream: IO[bytes]
    filename: str | None
    fields: dict[str, str] = field(default_factory=dict)


async def read_csv_upload(request: Request) -> CsvUpload:
    """The CSV of an import request; 415 for any other media type, 422 for a form without
    a ``file`` field."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            await form.close()
            raise InvalidInput("the multipart form needs a 'file' field", field="file")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return CsvUpload(upload.file, upload.filename, fields)
    if content_type in CSV_TYPES or not content_type:
        spool: IO[bytes] = SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        return CsvUpload(spool, None)
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"send the CSV as text/csv or multipart/form-data, not {content_type}",
    )
