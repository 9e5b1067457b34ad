"""`callhopper serve` keeps API tokens sent in WebSocket URLs out of its logs."""

from __future__ import annotations

import logging

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
