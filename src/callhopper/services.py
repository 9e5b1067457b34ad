"""The long-lived parts of a callhopper process, wired once for `serve` and `loader`.

A `serve` process answers HTTP and (unless ``CALLHOPPER_RUN_WORKERS=false``) runs the
background jobs; a `loader` process runs only the jobs. Both build them here, so both
run the same set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from callhopper.core.audit import AuditService
from callhopper.core.auth import AuthService, SignInLimit
from callhopper.core.campaigns import CampaignService
from callhopper.core.dashboard import DashboardService
from callhopper.core.dispensing import Dispenser, Pusher
from callhopper.core.dnc import DncService
from callhopper.core.eligibility import EligibilityService
from callhopper.core.hopper import DEFAULT_POLL_S, HopperLoader, HopperService
from callhopper.core.import_runs import ImportRunner
from callhopper.core.inbound import InboundService
from callhopper.core.leads import LeadService
from callhopper.core.lists import ListService
from callhopper.core.owners import OwnerService
from callhopper.core.ownership import OwnershipService
from callhopper.core.queues import QueueService
from callhopper.core.staleness import StalenessRunner
from callhopper.core.users import UserService
from callhopper.core.webhooks import WebhookSender, WebhookWorker
from callhopper.core.workflows import WorkflowService
from callhopper.core.wrapup import WrapupService
from callhopper.dialer_job import DialerJob
from callhopper.dnc_service import HttpNumberValidator, NoValidator, make_validator
from callhopper.domain.events import AgentEvent
from callhopper.domain.lead_owners import EndedLease
from callhopper.events import LocalBus, PostgresBus
from callhopper.ports import Clock, UnitOfWork
from callhopper.security import Argon2PasswordHasher
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.store.uow import SqlUnitOfWork
from callhopper.webhook_poster import HttpxWebhookPoster

#: A background job: a function that runs until the second one is called.
Job = tuple[Callable[[], None], Callable[[], None]]
#: Database connections the background jobs hold at once: one each (see ``Services.jobs``).
JOB_CONNECTIONS = 5


def pool_size(settings: Settings) -> int:
    """Connections a process keeps open: one per request it handles at once, one per job.
    A pool smaller than that opens and closes a connection for many transactions (a new
    PostgreSQL backend each time) and loses the statements prepared on it."""
    return settings.db_pool_size + JOB_CONNECTIONS


def event_bus(db: Database) -> LocalBus:
    """Events cross processes through PostgreSQL; a SQLite deployment is one process."""
    if db.dialect == "postgresql":
        url = db.engine.url.set(drivername="postgresql")
        return PostgresBus(url.render_as_string(hide_password=False))
    return LocalBus()


class BusNotices:
    """:class:`callhopper.ports.notices.AgentNotices` sent as events on the bus."""

    def __init__(self, bus: LocalBus) -> None:
        self.bus = bus

    def campaign_changed(self, agent_ids: Sequence[int], campaign_id: int, action: str) -> None:
        for agent_id in agent_ids:
            self.bus.publish(AgentEvent(agent_id, "campaign", campaign_id, reason=action))

    def deliveries_ended(self, leases: Sequence[EndedLease], reason: str) -> None:
        for lease in leases:
            self.bus.publish(
                AgentEvent(
                    lease.agent_id, "delivery_ended", lease.campaign_id, lease.record_id, reason
                )
            )


@dataclass(frozen=True)
class AdminServices:
    """Signing in, and the administration of users, queues and the other settings."""

    auth: AuthService
    users: UserService
    queues: QueueService
    inbound: InboundService
    wrapup: WrapupService
    audit: AuditService
    dnc: DncService
    workflows: WorkflowService


def admin_services(settings: Settings, uow: UnitOfWork, clock: Clock) -> AdminServices:
    """The administrative services over one unit of work (the API's, or the command line's)."""
    passwords = Argon2PasswordHasher()
    return AdminServices(
        auth=AuthService(
            uow,
            clock,
            passwords,
            session_ttl=timedelta(hours=settings.session_ttl_hours),
            sign_in_limit=SignInLimit(
                failures=settings.sign_in_max_failures,
                window=timedelta(seconds=settings.sign_in_window_s),
            ),
        ),
        users=UserService(uow, clock, passwords),
        queues=QueueService(uow, clock),
        inbound=InboundService(uow, clock, default_region=settings.default_region),
        wrapup=WrapupService(uow, clock),
        audit=AuditService(uow),
        dnc=DncService(
            uow,
            clock,
            default_region=settings.default_region,
            import_batch_rows=settings.import_batch_rows,
        ),
        workflows=WorkflowService(uow, clock),
    )


@dataclass(frozen=True)
class Services:
    """Everything a process shares between requests and background jobs."""

    admin: AdminServices
    bus: LocalBus
    validator: HttpNumberValidator | NoValidator
    dispenser: Dispenser
    loader: HopperLoader
    pusher: Pusher
    webhooks: WebhookWorker
    staleness: StalenessRunner
    campaigns: CampaignService
    lists: ListService
    owners: OwnerService
    ownership: OwnershipService
    leads: LeadService
    hopper: HopperService
    #: The console's imports in the background.
    import_runs: ImportRunner
    dashboard: DashboardService
    eligibility: EligibilityService
    dialer: DialerJob
    run_dialer: bool

    @property
    def jobs(self) -> list[Job]:
        """Hopper loads, pushes and their timers, webhook deliveries, staleness rules, and
        the dialing engine unless the settings turn it off."""
        jobs: list[Job] = [
            (self.loader.run_forever, self.loader.stop),
            (self.pusher.run_forever, self.pusher.stop),
            (self.webhooks.run, self.webhooks.stop),
            (self.staleness.run, self.staleness.stop),
        ]
        if self.run_dialer:
            jobs.append((self.dialer.run_forever, self.dialer.stop))
        return jobs

    def start_jobs(self) -> list[threading.Thread]:
        """Run every job in a daemon thread; :meth:`stop_jobs` ends them. Raises
        :class:`~callhopper.dialer_job.TelephonyUnavailable` first when the dialer is to run
        and its telephony adapter cannot."""
        if self.run_dialer:
            self.dialer.check()
        threads = []
        for run, _ in self.jobs:
            thread = threading.Thread(target=run, name=run.__qualname__, daemon=True)
            thread.start()
            threads.append(thread)
        return threads

    def stop_jobs(self, threads: list[threading.Thread], timeout_s: float = 10.0) -> None:
        for _, stop in self.jobs:
            stop()
        for thread in threads:
            thread.join(timeout=timeout_s)

    def close(self) -> None:
        self.validator.close()


def build(
    settings: Settings, db: Database, clock: Clock, *, loader_poll_s: float = DEFAULT_POLL_S
) -> Services:
    """Wire the services of one process around one database."""
    uow = SqlUnitOfWork(db)
    bus = event_bus(db)
    notices = BusNotices(bus)
    loader = HopperLoader(uow, clock, poll_s=loader_poll_s)
    webhooks = WebhookWorker(
        WebhookSender(
            uow,
            clock,
            HttpxWebhookPoster(),
            max_attempts=settings.webhook_max_attempts,
            timeout_s=settings.webhook_timeout_s,
        ),
        poll_s=settings.webhook_poll_s,
    )
    validator = make_validator(settings.dnc_service_url, settings.dnc_service_timeout_s)
    dispenser = Dispenser(
        uow,
        clock,
        bus=bus,
        on_agents_change=lambda _: loader.wake(),
        on_webhooks_queued=webhooks.wake,
        validator=validator,
        load_hopper=loader.load,
    )
    pusher = Pusher(dispenser)
    if isinstance(bus, PostgresBus):  # a push whose notification was lost is sent again
        bus.held_pushes = dispenser.held_pushes
    dialer = DialerJob(settings, dispenser)

    def work(campaign_id: int) -> None:
        # Each background job only for the campaigns it serves: a preview campaign's Done
        # wakes neither (``0``, an agent became ready anywhere, wakes both).
        mode = pusher.mode_of(campaign_id) if campaign_id else None
        if mode is None or mode.is_pushed:
            pusher.wake()
        if mode is None or mode.dials_by_itself:
            dialer.wake(campaign_id)

    def state_changed() -> None:
        pusher.wake()
        dialer.wake()

    dispenser.on_work = work
    lists = ListService(
        uow, clock, import_workers=settings.import_workers, batch_rows=settings.import_batch_rows
    )
    campaigns = CampaignService(uow, clock, notices, on_state_change=state_changed)
    hopper = HopperService(uow, clock, loader)
    return Services(
        admin=admin_services(settings, uow, clock),
        bus=bus,
        validator=validator,
        dispenser=dispenser,
        loader=loader,
        pusher=pusher,
        webhooks=webhooks,
        staleness=StalenessRunner(uow, clock),
        campaigns=campaigns,
        lists=lists,
        owners=OwnerService(uow, clock, notices, on_owners_changed=loader.wake),
        ownership=OwnershipService(uow, clock),
        leads=LeadService(uow, clock, on_leads_inserted=loader.wake),
        hopper=hopper,
        import_runs=ImportRunner(lists, clock),
        dashboard=DashboardService(campaigns, hopper, clock),
        eligibility=EligibilityService(uow, clock),
        dialer=dialer,
        run_dialer=settings.run_dialer,
    )
