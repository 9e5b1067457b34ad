"""`callhopper serve` keeps API tokens sent in WebSocket URLs out of its logs."""

from __future__ import annotations

import logging

from uvicorn.logging import AccessFormatter

from callhopper.cli import _redact_tokens


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)


def test_a_token_in_a_websocket_url_is_redacted() -> None:
    line = record('%s - "WebSocket %s" [accepted]', "127.0.0.1:5", "/ws?token=chp_s3cret&x=1")
    assert _redact_tokens(line)
    assert line.getMessage() == '127.0.0.1:5 - "WebSocket /ws?token=[redacted]&x=1" [accepted]'
    assert "chp_s3cret" not in line.getMessage()


def test_other_lines_are_untouched() -> None:
    line = record('%s - "GET %s HTTP/1.1" %d', "127.0.0.1:5", "/api/v1/agent/state", 200)
    assert _redact_tokens(line)
    assert line.getMessage() == '127.0.0.1:5 - "GET /api/v1/agent/state HTTP/1.1" 200'


def test_an_access_line_keeps_its_arguments_and_is_still_written() -> None:
    # uvicorn's access formatter unpacks five arguments: emptied, the line was lost with a
    # "--- Logging error ---" traceback.
    line = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/v1/auth/me?token=chp_s3cret", "1.1", 401),
        None,
    )
    assert _redact_tokens(line)
    formatted = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(line)
    assert (
        formatted
        == '127.0.0.1:5 - "GET /api/v1/auth/me?token=[redacted] HTTP/1.1" 401 Unauthorized'
    )


def test_a_token_in_the_format_string_itself_is_redacted() -> None:
    line = record("opened /ws?token=chp_s3cret for %s", "alice")
    assert _redact_tokens(line)
    assert line.getMessage() == "opened /ws?token=[redacted] for alice"
