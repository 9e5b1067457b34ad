"""SQLAlchemy models, one module per aggregate. These are storage shapes; API schemas live in
``callhopper.api.schemas``, and the values stored in state columns are the domain's enums.

Every model is importable from here, so that the metadata (``Base.metadata``) is complete
once this package is imported.
"""

from __future__ import annotations

from callhopper.store.models.agents import AgentChannel, AgentSession
from callhopper.store.models.audit import AuditEntry
from callhopper.store.models.base import NAMING, Base, never_reuse_ids, sql_values, table_of
from callhopper.store.models.callbacks import Callback, Interaction
from callhopper.store.models.calls import Call
from callhopper.store.models.campaigns import (
    POOL_CLAIM_INDEXES,
    Assignment,
    Campaign,
    CampaignAgent,
    CampaignRecord,
)
from callhopper.store.models.dnc import CampaignDncList, DncList, DncNumber
from callhopper.store.models.hopper import HopperEntry, WorkerLease
from callhopper.store.models.lists import (
    ContactList,
    ImportJob,
    ImportRejection,
    Record,
    RecordPhone,
)
from callhopper.store.models.ownership import RecordOwnership
from callhopper.store.models.queues import Queue, QueueMember, Skill, UserSkill
from callhopper.store.models.users import AuthToken, Role, SignInFailure, User
from callhopper.store.models.workflows import (
    InboundRoute,
    StalenessRule,
    WebhookMessage,
    WorkflowRule,
)
from callhopper.store.models.wrapup import WrapupCode, WrapupCodeSet

never_reuse_ids(Base.metadata)

__all__ = [
    "NAMING",
    "POOL_CLAIM_INDEXES",
    "AgentChannel",
    "AgentSession",
    "Assignment",
    "AuditEntry",
    "AuthToken",
    "Base",
    "Call",
    "Callback",
    "Campaign",
    "CampaignAgent",
    "CampaignDncList",
    "CampaignRecord",
    "ContactList",
    "DncList",
    "DncNumber",
    "HopperEntry",
    "ImportJob",
    "ImportRejection",
    "InboundRoute",
    "Interaction",
    "Queue",
    "QueueMember",
    "Record",
    "RecordOwnership",
    "RecordPhone",
    "Role",
    "SignInFailure",
    "Skill",
    "StalenessRule",
    "User",
    "UserSkill",
    "WebhookMessage",
    "WorkerLease",
    "WorkflowRule",
    "WrapupCode",
    "WrapupCodeSet",
    "sql_values",
    "table_of",
]
