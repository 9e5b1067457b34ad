"""SQLAlchemy models. These are storage shapes; API schemas live in ``callhopper.api``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from callhopper.store.types import BigId, JSONDoc, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDoc,
    }


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements (cheaper than ORM-enabled ones on hot paths)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# --- users, roles, credentials -------------------------------------------------------------


class Role(Base):
    """A named set of rights. Built-in roles take their rights from code."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Right names of a custom role; ignored for built-in roles.
    rights: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    #: Lower-cased email: the case-insensitive unique key and the match key.
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    deactivated_at: Mapped[datetime | None]


class AuthToken(Base):
    """A login session (cookie) or an API token. Only a hash of the secret is kept."""

    __tablename__ = "auth_tokens"
    __table_args__ = (CheckConstraint("kind IN ('session', 'api')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the secret, so a user can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# --- queues and skills ---------------------------------------------------------------------


class Queue(Base):
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class QueueMember(Base):
    __tablename__ = "queue_members"

    queue_id: Mapped[int] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[datetime]


class Skill(Base):
    """A named lead filter (SPEC §2)."""

    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    expression: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class UserSkill(Base):
    __tablename__ = "user_skills"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# --- contact lists and records -------------------------------------------------------------


class ContactList(Base):
    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: The list's :class:`callhopper.domain.contacts.ListSchema` as JSON.
    schema: Mapped[dict[str, Any]]
    #: :class:`callhopper.domain.campaign_ownership.OwnershipSettings` as JSON (SPEC §6).
    ownership: Mapped[dict[str, Any]] = mapped_column(
        JSONDoc, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ImportJob(Base):
    """One import or append into a list, with its counts. Rejections are kept row by row."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(500), default="")
    format: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    #: Of the rows accepted, how many updated a record with the same key.
    rows_updated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)


class ImportRejection(Base):
    __tablename__ = "import_rejections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    #: CSV line number (the header is line 1), or the 1-based item number of a JSON batch.
    line: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_import_rejections_import_line", "import_id", "line"),)


class Record(Base):
    """One contact of a list: its values, normalised phones, time zone and lead owner."""

    __tablename__ = "records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))
    #: Value of the list's key column, when it has one (duplicates are refused).
    key: Mapped[str | None] = mapped_column(String(500))
    #: Column values, all strings, keyed by column name.
    data: Mapped[dict[str, Any]]
    #: E.164 numbers aligned with the list's phone columns (``None`` where empty).
    phones: Mapped[list[str | None]] = mapped_column(JSONDoc)
    #: IANA zone of the contact, derived at import.
    tz: Mapped[str | None] = mapped_column(String(64))
    #: Lead owner (SPEC §7.1): an agent, or none for the general pool.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The campaign whose agent has the record out now, until when (any campaign's claim
    #: locks this row and re-reads these columns: one contact, one agent at a time).
    out_campaign_id: Mapped[int | None] = mapped_column(Integer)
    out_until: Mapped[datetime | None]
    #: The campaign owning the record (SPEC §6), mirrored from ``record_ownership`` for
    #: the same reason; ``owner_campaign_id`` set with no ``owner_until`` never expires.
    owner_campaign_id: Mapped[int | None] = mapped_column(Integer)
    owner_until: Mapped[datetime | None]
    #: The lead's status: its last wrap-up code in any campaign, and when it was last dialled.
    last_code: Mapped[str | None] = mapped_column(String(64))
    last_called_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_records_list_id", "list_id", "id"),
        Index(
            "uq_records_list_key",
            "list_id",
            "key",
            unique=True,
            sqlite_where=text("key IS NOT NULL"),
            postgresql_where=text("key IS NOT NULL"),
        ),
    )


# --- wrap-up codes -------------------------------------------------------------------------


class WrapupCodeSet(Base):
    __tablename__ = "wrapup_code_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class WrapupCode(Base):
    """A disposition with the attributes of SPEC §4.3."""

    __tablename__ = "wrapup_codes"
    __table_args__ = (
        UniqueConstraint("set_id", "code", name="uq_wrapup_codes_set_code"),
        CheckConstraint(
            "retry_after_minutes IS NULL OR retry_after_minutes >= 0", name="retry_after"
        ),
        CheckConstraint(
            "owner_action IS NULL OR owner_action IN ('set_owner_to_agent', 'clear_owner')",
            name="owner_action",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(
        ForeignKey("wrapup_code_sets.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    counts_as_attempt: Mapped[bool] = mapped_column(Boolean, default=True)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    retry_after_minutes: Mapped[int | None] = mapped_column(Integer)
    adds_to_dnc: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_action: Mapped[str | None] = mapped_column(String(32))


# --- audit ---------------------------------------------------------------------------------


class AuditEntry(Base):
    """Who did what to which target, with the before and after state (SPEC §1, §10.7)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The actor's user_id at the time, or ``system`` for background work.
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)


# --- campaigns -----------------------------------------------------------------------------

CAMPAIGN_MODES = "'preview', 'push_preview', 'direct_push_preview', 'progressive', 'predictive'"
RECORD_STATUSES = "'ready', 'leased', 'waiting', 'final', 'error', 'blocked'"


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"mode IN ({CAMPAIGN_MODES})", name="mode"),
        CheckConstraint("state IN ('off', 'on', 'stopping', 'complete')", name="state"),
        CheckConstraint("owner_order IN ('email_first', 'user_id_first')", name="owner_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id"), index=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"), index=True)
    wrapup_set_id: Mapped[int] = mapped_column(ForeignKey("wrapup_code_sets.id"), index=True)
    mode: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="off")
    #: The list's agent-owned column this campaign delivers by; fixed at creation (SPEC §5).
    agent_owned_column: Mapped[str | None] = mapped_column(String(200))
    owner_order: Mapped[str] = mapped_column(String(16), default="email_first")
    #: Contact sorting: ``[{"column": …, "descending": …}, …]``.
    sort: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    #: :class:`callhopper.domain.calling_window.CallingWindow` as JSON.
    calling_window: Mapped[dict[str, Any]]
    #: :class:`callhopper.domain.campaigns.CampaignSettings` as JSON.
    settings: Mapped[dict[str, Any]]
    #: Passes over the list so far; recycle starts the next one.
    pass_no: Mapped[int] = mapped_column(Integer, default=0)
    #: Lead ownership with a per-agent hopper (SPEC §7); fixed at creation.
    enforce_lead_ownership: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    #: The time zones of the campaign's contacts: a claim binds only the open ones.
    zones: Mapped[list[str]] = mapped_column(JSONDoc, default=list, server_default="[]")
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    recycled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


#: Claim indexes of records without an owner snapshot (PostgreSQL only): name, order, state.
POOL_CLAIM_INDEXES = (
    ("fresh", "rank", "status IN ('ready', 'leased')"),
    ("retry", "retry_at", "status = 'waiting' AND retry_at IS NOT NULL"),
    ("blocked", "blocked_until", "status = 'blocked'"),
)


class CampaignRecord(Base):
    """A record as one campaign sees it: its owner snapshot, lease, order and progress.

    ``agent_id`` is the owner snapshot (agent-owned campaigns) and ``lease_agent_id``
    the agent the record is delivered to right now: two separate fields, so that
    giving a record back never touches its owner.
    """

    __tablename__ = "campaign_records"
    __table_args__ = (
        CheckConstraint(f"status IN ({RECORD_STATUSES})", name="status"),
        CheckConstraint(
            "(status = 'leased' AND lease_agent_id IS NOT NULL AND lease_expires_at IS NOT NULL)"
            " OR (status <> 'leased' AND lease_agent_id IS NULL AND lease_expires_at IS NULL)",
            name="lease",
        ),
        # SPEC §10.2 in the schema: an owned record is only ever leased to its owner.
        CheckConstraint(
            "agent_id IS NULL OR lease_agent_id IS NULL OR lease_agent_id = agent_id",
            name="owner_lease",
        ),
        CheckConstraint("(status = 'error') = (error IS NOT NULL)", name="error"),
        CheckConstraint("status = 'blocked' OR blocked_until IS NULL", name="blocked"),
        Index(
            "ix_campaign_records_fresh",
            "campaign_id",
            "agent_id",
            "rank",
            sqlite_where=text("status IN ('ready', 'leased')"),
            postgresql_where=text("status IN ('ready', 'leased')"),
        ),
        Index(
            "ix_campaign_records_retry",
            "campaign_id",
            "agent_id",
            "retry_at",
            sqlite_where=text("status = 'waiting' AND retry_at IS NOT NULL"),
            postgresql_where=text("status = 'waiting' AND retry_at IS NOT NULL"),
        ),
        Index(
            "uq_campaign_records_one_lease_per_agent",
            "campaign_id",
            "lease_agent_id",
            unique=True,
            sqlite_where=text("status = 'leased'"),
            postgresql_where=text("status = 'leased'"),
        ),
        Index(
            "ix_campaign_records_blocked",
            "campaign_id",
            "agent_id",
            "blocked_until",
            sqlite_where=text("status = 'blocked'"),
            postgresql_where=text("status = 'blocked'"),
        ),
        # The same three orders for records without an owner snapshot (campaigns without an
        # agent-owned column), on PostgreSQL: it does not read index order past an ``IS NULL``
        # column, so ``agent_id IS NULL … ORDER BY rank`` would sort every ready record of the
        # campaign. (SQLite treats ``IS NULL`` as an equality and walks the indexes above.)
        *(
            Index(
                f"ix_campaign_records_{name}_pool",
                "campaign_id",
                column,
                postgresql_where=text(f"{where} AND agent_id IS NULL"),
            ).ddl_if(dialect="postgresql")
            for name, column, where in POOL_CLAIM_INDEXES
        ),
        Index("ix_campaign_records_record", "record_id"),
        Index("ix_campaign_records_agent", "campaign_id", "agent_id", "status"),
    )

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="ready")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Why the record cannot be delivered (:class:`callhopper.domain.ownership.OwnerError`).
    error: Mapped[str | None] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(BigId)
    tz: Mapped[str | None] = mapped_column(String(64))
    retry_at: Mapped[datetime | None]
    lease_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lease_expires_at: Mapped[datetime | None]
    leased_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_code: Mapped[str | None] = mapped_column(String(64))
    last_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_at: Mapped[datetime | None]
    #: The pass in which the record was last delivered, and last handled.
    delivered_pass: Mapped[int | None] = mapped_column(Integer)
    handled_pass: Mapped[int | None] = mapped_column(Integer)
    #: A wrap-up chosen but not yet done: ``{"code", "note", "fields"}``.
    pending: Mapped[dict[str, Any] | None]
    #: ``blocked``: another campaign owns the record until then (``NULL``: without expiry).
    blocked_until: Mapped[datetime | None]
    #: Only this agent may get the record (a personal callback; SPEC §4.2).
    reserved_for: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the agent first dialled during the current lease (preview timeout auto-dial).
    called_at: Mapped[datetime | None]
    #: Push modes: the agent must accept before then, else the record goes back on top.
    accept_by: Mapped[datetime | None]


class AgentSession(Base):
    """An agent logged into a campaign (SPEC §2)."""

    __tablename__ = "agent_sessions"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    logged_in_at: Mapped[datetime]
    #: False after Done and Stop, until the next Get Record.
    receiving: Mapped[bool] = mapped_column(Boolean, default=True)
    #: When ``receiving`` last went on (the login, or Get Record after a Stop): with the
    #: agent's last release and ready time, how long the pusher has kept them waiting.
    receiving_since: Mapped[datetime]


class Assignment(Base):
    """Append-only history of deliveries; survives the campaign (no foreign key to it)."""

    __tablename__ = "assignment_history"
    __table_args__ = (
        Index(
            "uq_assignment_history_open",
            "campaign_id",
            "record_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_assignment_history_record", "record_id"),
        Index("ix_assignment_history_agent", "agent_id", "leased_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer)
    campaign_name: Mapped[str] = mapped_column(String(200))
    list_id: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[int] = mapped_column(BigId)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    pass_no: Mapped[int] = mapped_column(Integer)
    leased_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    #: ``done``, ``skipped``, ``call_later``, ``do_not_call``, ``expired``, ``logout``, ``recycled``
    outcome: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(64))


class Interaction(Base):
    """What happened on a record: calls dialled and wrap-ups, across campaigns (contact history)."""

    __tablename__ = "interactions"
    __table_args__ = (
        CheckConstraint("kind IN ('call', 'wrapup', 'decline')", name="kind"),
        Index("ix_interactions_record", "record_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigId)
    campaign_id: Mapped[int] = mapped_column(Integer)
    campaign_name: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    #: The number dialled (E.164), for calls.
    number: Mapped[str | None] = mapped_column(String(32))
    #: The caller ID the call showed (E.164), when the campaign has caller IDs.
    caller_id: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    #: Field edits made at wrap-up: ``{column: [before, after]}``.
    edits: Mapped[dict[str, Any] | None]


class CampaignAgent(Base):
    """The queue membership snapshot of a campaign, taken at start and at each recycle."""

    __tablename__ = "campaign_agents"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class RecordOwnership(Base):
    """Which campaign owns a record of a shared list, since when and until when (SPEC §6).

    Rows are kept after their end (``released_at``) for the tracking report. At most one
    row per record is open; an open row whose ``expires_at`` has passed is over already
    and is closed by the next claim.
    """

    __tablename__ = "record_ownership"
    __table_args__ = (
        Index(
            "uq_record_ownership_open",
            "record_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index(
            "ix_record_ownership_list_campaign",
            "list_id",
            "campaign_id",
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_record_ownership_released", "list_id", "released_at"),
        CheckConstraint(
            "release_reason IS NULL OR release_reason IN ('released', 'expired')",
            name="release_reason",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(BigId, ForeignKey("records.id", ondelete="CASCADE"))
    #: No foreign key: the report still names a campaign deleted since.
    campaign_id: Mapped[int] = mapped_column(Integer)
    campaign_name: Mapped[str] = mapped_column(String(200))
    owned_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(16))


# --- phones, do-not-call lists, callbacks, agent channels (SPEC §4.2, §4.5, §2) -------------


class RecordPhone(Base):
    """Every normalised number of every record, for look-ups by number (DNC, inbound)."""

    __tablename__ = "record_phones"
    __table_args__ = (Index("ix_record_phones_e164", "e164", "list_id"),)

    record_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(Integer)
    e164: Mapped[str] = mapped_column(String(32))


class DncList(Base):
    """A do-not-call list. A campaign's own list collects its *do not call* declines."""

    __tablename__ = "dnc_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: Set for a campaign's own list.
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime]


class DncNumber(Base):
    __tablename__ = "dnc_numbers"
    __table_args__ = (Index("ix_dnc_numbers_e164", "e164"),)

    list_id: Mapped[int] = mapped_column(
        ForeignKey("dnc_lists.id", ondelete="CASCADE"), primary_key=True
    )
    e164: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_at: Mapped[datetime]
    #: ``import``, ``api``, ``decline`` or ``wrapup``.
    source: Mapped[str] = mapped_column(String(16))


class CampaignDncList(Base):
    __tablename__ = "campaign_dnc_lists"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    dnc_list_id: Mapped[int] = mapped_column(
        ForeignKey("dnc_lists.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Callback(Base):
    """A callback scheduled by an agent (SPEC §4.2)."""

    __tablename__ = "callbacks"
    __table_args__ = (
        CheckConstraint("kind IN ('personal', 'any')", name="kind"),
        CheckConstraint("status IN ('scheduled', 'delivered', 'done', 'cancelled')", name="status"),
        Index(
            "uq_callbacks_pending",
            "campaign_id",
            "record_id",
            unique=True,
            sqlite_where=text("status IN ('scheduled', 'delivered')"),
            postgresql_where=text("status IN ('scheduled', 'delivered')"),
        ),
        Index("ix_callbacks_due", "campaign_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(BigId, ForeignKey("records.id", ondelete="CASCADE"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    #: Who gets it: the scheduling agent, or the record's owner; ``NULL`` for any agent.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime]
    #: Another number to call, instead of the record's own.
    number: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgentChannel(Base):
    """An agent's ready / not ready state on a channel (SPEC §2)."""

    __tablename__ = "agent_channels"
    __table_args__ = (CheckConstraint("channel IN ('voice', 'outbound_preview')", name="channel"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime]


# --- lead ownership with a hopper, workflow rules, inbound routing (SPEC §7) -----------------


class HopperEntry(Base):
    """A record staged for delivery in a lead-ownership campaign (SPEC §7.2)."""

    __tablename__ = "hopper"
    __table_args__ = (
        Index("ix_hopper_owner", "campaign_id", "owner_id", "position"),
        # The campaign's last (or first) position: where a load or a skip appends.
        Index("ix_hopper_position", "campaign_id", "position"),
    )

    #: No foreign key (migration 0013): ``delete_campaign`` deletes the campaign's entries,
    #: and each insert holds the campaign's row once (``store.hopper.while_campaign_exists``)
    #: instead of a key's check per entry. Unlogged on PostgreSQL: a crash empties the
    #: hopper, and the next load fills it again.
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: No foreign key: the record is on the campaign's list, which cannot be deleted while
    #: the campaign exists, and the entry goes with the campaign. The key's check would
    #: lock each record a load adds (migration 0012).
    record_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The lead's owner when loaded; ``NULL`` for a general lead.
    owner_id: Mapped[int | None] = mapped_column(Integer)
    #: The skills (lead filter) a general lead was loaded for.
    group_key: Mapped[str | None] = mapped_column(String(64))
    #: Delivery order within an owner or the general pool (FIFO or LIFO).
    position: Mapped[int] = mapped_column(BigId)
    #: Inserted straight into the hopper by the lead API (``hopper=1``).
    direct: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_at: Mapped[datetime]


class WorkerLease(Base):
    """Which process runs a background job now (one hopper loader per campaign, …)."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


class WorkflowRule(Base):
    """Trigger (wrap-up codes on campaigns) → actions (SPEC §7.4)."""

    __tablename__ = "workflow_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ``{"codes": [...], "campaign_ids": [...]}`` (an empty list means any).
    trigger: Mapped[dict[str, Any]]
    #: ``[{"type": "set_owner_to_agent"} | {"type": "clear_owner"} |
    #: {"type": "set_field", "field": …, "value": …} | {"type": "webhook", "url": …}]``
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    #: The key that signs this rule's webhooks (HMAC-SHA256).
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookMessage(Base):
    """A webhook waiting to be sent: written with the change it reports, sent by a worker."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflow_rules.id", ondelete="SET NULL")
    )
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class InboundRoute(Base):
    """How calls to one of our numbers are routed (SPEC §7.3)."""

    __tablename__ = "inbound_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The number called (E.164).
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    #: Yes: an owner who is not available may be replaced by another agent.
    route_unavailable_agents: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Where calls go without an available owner: ``queue:<id>``, ``voicemail`` …
    fallback: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class StalenessRule(Base):
    """Release owned leads that go stale back to the general pool (SPEC §7.4)."""

    __tablename__ = "staleness_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"))
    #: Leads whose status (last wrap-up code) is one of these …
    statuses: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    #: … or that have not been called for this many days …
    not_called_days: Mapped[int | None] = mapped_column(Integer)
    #: … or whose owner is deactivated.
    owner_deactivated: Mapped[bool] = mapped_column(Boolean, default=False)
    every_minutes: Mapped[int] = mapped_column(Integer, default=60)
    last_run_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
