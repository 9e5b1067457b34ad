"""Every SIP outcome of a call to a customer, against SIPp as the customer's phone or the
carrier's trunk, in a loopback-only network namespace.

The scenarios run at once (one SIPp and one adapter each), so that the no-answer case's
15-second ring timeout is paid once for the whole module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callhopper.domain.calls import (
    Answered,
    CallOutcome,
    HungUp,
    Party,
    Ringing,
    Unanswered,
)
from callhopper.telephony.sip.config import CallerIdHeader
from tests.sip.conftest import (
    CALLER_ID,
    CUSTOMER,
    RING_TIMEOUT_S,
    Timeline,
    collect,
    dial,
    sip_telephony,
    trunk_config,
    wait_for,
)
from tests.sip.harness import SipMessage, Sipp, namespace, require

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    scenario: str
    delay_ms: int = 0
    #: Hang up from our side this long after the answer (None: wait for the far end).
    hang_up_after_s: float | None = None
    trunk: dict[str, str] | None = None
    variables: dict[str, str] | None = None


CASES = {
    "answer": Case("answer", hang_up_after_s=0.3),
    "late_answer": Case("answer", delay_ms=2000, hang_up_after_s=0.3),
    "busy": Case("busy"),
    "no_answer": Case("noanswer"),
    "remote_hangup": Case("hangup", delay_ms=500),
    "wrong_password": Case(
        "auth",
        trunk={"username": "trunkuser", "password": "wrong"},
        variables={"password": "s3cret"},
    ),
    "right_password": Case(
        "auth",
        hang_up_after_s=0.3,
        trunk={"username": "trunkuser", "password": "s3cret"},
        variables={"password": "s3cret"},
    ),
    "pai_only": Case("answer", hang_up_after_s=0.3, trunk={"caller_id_header": "pai"}),
}


@dataclass
class Result:
    timeline: Timeline
    invites: list[SipMessage]


async def _run(case: Case, port: int, ns: object, timeline: Timeline) -> None:
    trunk = dict(case.trunk or {})
    if "caller_id_header" in trunk:
        trunk["caller_id_header"] = CallerIdHeader(trunk["caller_id_header"])  # type: ignore[assignment]
    async with sip_telephony(ns, trunk_config(port, **trunk)) as telephony:  # type: ignore[arg-type]
        collector = asyncio.create_task(collect(telephony, timeline))
        timeline.t0 = time.monotonic()
        await telephony.originate(dial("c1"))
        await wait_for(lambda: timeline.ended("c1") or bool(_answered(timeline)), 30)
        if _answered(timeline) and case.hang_up_after_s is not None:
            await asyncio.sleep(case.hang_up_after_s)
            await telephony.hang_up(dial("c1").call_id)
        try:
            await wait_for(lambda: timeline.ended("c1"), 30)
        except TimeoutError:
            raise TimeoutError(f"{case}: {timeline.events}") from None
    await collector


def _answered(timeline: Timeline) -> list[object]:
    return [e for e in timeline.of("c1") if isinstance(e, Answered)]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    require()
    workdir: Path = tmp_path_factory.mktemp("sip-outcomes")
    with namespace() as ns:
        sipps = {
            name: Sipp(
                ns,
                case.scenario,
                workdir,
                port=5070 + i,
                media_port=16000 + 10 * i,
                delay_ms=case.delay_ms,
                variables=case.variables,
            )
            for i, (name, case) in enumerate(CASES.items())
        }
        timelines = {name: Timeline() for name in CASES}

        async def run_all() -> None:
            await asyncio.gather(
                *(_run(case, sipps[name].port, ns, timelines[name]) for name, case in CASES.items())
            )

        asyncio.run(run_all())
        for sipp in sipps.values():
            sipp.stop()
        yield {name: Result(timelines[name], sipps[name].invites()) for name in CASES}


def kinds(result: Result) -> list[str]:
    return [type(e).__name__ for e in result.timeline.of("c1")]


def test_answer_rings_then_answers_and_we_hang_up(results: dict[str, Result]) -> None:
    r = results["answer"]
    assert kinds(r) == ["Ringing", "Answered", "HungUp"]
    events = r.timeline.of("c1")
    assert events[1] == Answered(events[1].call_id, events[1].at, CallOutcome.PERSON)
    assert isinstance(events[2], HungUp) and events[2].by is Party.ENGINE
    assert r.timeline.at("c1", Answered) < 1.0
    assert len(r.invites) == 1


def test_the_invite_carries_the_caller_id_in_from_and_pai(results: dict[str, Result]) -> None:
    invite = results["answer"].invites[0]
    assert invite.first_line.startswith(f"INVITE sip:{CUSTOMER}@127.0.0.1:")
    assert f"sip:{CALLER_ID}@" in (invite.header("From") or "")
    assert f"sip:{CALLER_ID}@" in (invite.header("P-Asserted-Identity") or "")


def test_caller_id_in_pai_only(results: dict[str, Result]) -> None:
    invite = results["pai_only"].invites[0]
    assert CALLER_ID not in (invite.header("From") or "")
    assert f"sip:{CALLER_ID}@" in (invite.header("P-Asserted-Identity") or "")


def test_answer_after_a_delay(results: dict[str, Result]) -> None:
    r = results["late_answer"]
    assert kinds(r) == ["Ringing", "Answered", "HungUp"]
    rang, answered = r.timeline.at("c1", Ringing), r.timeline.at("c1", Answered)
    assert 1.9 <= answered - rang < 3.0


def test_busy(results: dict[str, Result]) -> None:
    r = results["busy"]
    assert kinds(r) == ["Unanswered"]
    (event,) = r.timeline.of("c1")
    assert isinstance(event, Unanswered)
    assert (event.outcome, event.code) == (CallOutcome.BUSY, "486")


def test_no_answer_at_the_ring_timeout(results: dict[str, Result]) -> None:
    r = results["no_answer"]
    assert kinds(r) == ["Ringing", "Unanswered"]
    event = r.timeline.of("c1")[-1]
    assert isinstance(event, Unanswered)
    assert (event.outcome, event.code) == (CallOutcome.NO_ANSWER, "487")
    assert RING_TIMEOUT_S <= r.timeline.at("c1", Unanswered) < RING_TIMEOUT_S + 1.5


def test_remote_hang_up(results: dict[str, Result]) -> None:
    r = results["remote_hangup"]
    assert kinds(r) == ["Answered", "HungUp"]
    event = r.timeline.of("c1")[-1]
    assert isinstance(event, HungUp) and event.by is Party.CONTACT
    assert 0.4 <= r.timeline.at("c1", HungUp) - r.timeline.at("c1", Answered) < 1.5


def test_wrong_trunk_password_fails_with_the_sip_code(results: dict[str, Result]) -> None:
    r = results["wrong_password"]
    assert kinds(r) == ["Unanswered"]
    (event,) = r.timeline.of("c1")
    assert isinstance(event, Unanswered)
    assert (event.outcome, event.code) == (CallOutcome.FAILED, "403")
    # The first INVITE, then one answer to the challenge: no retry loop.
    assert len(r.invites) == 2
    assert (
        r.invites[1].header(
            "Authorization",
        )
        is not None
    )
    assert 'username="trunkuser"' in (r.invites[1].header("Authorization") or "")


def test_right_trunk_password_is_answered(results: dict[str, Result]) -> None:
    r = results["right_password"]
    assert kinds(r) == ["Answered", "HungUp"]
    assert len(r.invites) == 2
