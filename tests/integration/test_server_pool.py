"""A server process keeps one database connection per request it handles at once, and one per
background job: it handles no more requests at once than that (the others wait for a worker
thread), so it never opens and closes connections under load."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from anyio import to_thread
from fastapi.testclient import TestClient
from sqlalchemy import event

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.services import JOB_CONNECTIONS, pool_size
from callhopper.settings import Settings
from callhopper.store.db import Database
from tests.support import MakeUser


def test_requests_at_once_are_capped_at_the_connections_the_pool_keeps(
    db_url: str, clock: FrozenClock, make_user: MakeUser
) -> None:
    settings = Settings(database_url=db_url, import_workers=0, db_pool_size=3)
    assert pool_size(settings) == 3 + JOB_CONNECTIONS
    database = Database(db_url, pool_size=pool_size(settings), pool_timeout_s=5)
    database.engine.pool._max_overflow = 0  # type: ignore[attr-defined]
    lock, out, peak = threading.Lock(), [0], [0]

    def checkout(*_: object) -> None:
        with lock:
            out[0] += 1
            peak[0] = max(peak[0], out[0])

    def checkin(*_: object) -> None:
        with lock:
            out[0] -= 1

    event.listen(database.engine, "checkout", checkout)
    event.listen(database.engine, "checkin", checkin)
    agent = make_user("agent")
    try:
        app = create_app(settings, database, clock, background=True)
        assert len(app.state.services.jobs) == JOB_CONNECTIONS
        with TestClient(app) as client:
            assert client.portal is not None
            limiter = client.portal.call(to_thread.current_default_thread_limiter)
            assert limiter.total_tokens == 3

            def my_campaigns(_: int) -> int:
                response = client.get("/api/v1/agent/campaigns", headers=agent.headers)
                return response.status_code

            with ThreadPoolExecutor(max_workers=12) as pool:
                assert set(pool.map(my_campaigns, range(60))) == {200}
    finally:
        database.dispose()
    assert 1 <= peak[0] <= pool_size(settings)


def test_healthz_answers_while_every_request_thread_is_busy(
    db_url: str, clock: FrozenClock
) -> None:
    """A health check touches no database: it must not wait behind requests for a worker
    thread. (Under 100 agents at once, a restarted server took more than 10 minutes to answer
    a 1-second /healthz probe while it served them, so a load balancer would have taken it
    out.)"""
    settings = Settings(database_url=db_url, import_workers=0, db_pool_size=1)
    database = Database(db_url, pool_size=pool_size(settings), pool_timeout_s=5)
    answers: list[int] = []
    try:
        with TestClient(create_app(settings, database, clock)) as client:
            assert client.portal is not None
            limiter = client.portal.call(to_thread.current_default_thread_limiter)
            assert limiter.total_tokens == 1
            client.portal.call(limiter.acquire_on_behalf_of, "busy")  # the only request thread
            try:
                probe = threading.Thread(
                    target=lambda: answers.append(client.get("/healthz").status_code), daemon=True
                )
                probe.start()
                probe.join(10)
                busy_answers = list(answers)  # what came while the thread was taken
            finally:
                client.portal.call(limiter.release_on_behalf_of, "busy")
            probe.join(10)
    finally:
        database.dispose()
    assert busy_answers == [200]
