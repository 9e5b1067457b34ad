"""phones index, dnc, callbacks, channels, hopper, workflows, inbound routes, staleness

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:24:53.852686
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import callhopper.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("route_unavailable_agents", sa.Boolean(), nullable=False),
        sa.Column("fallback", sa.String(length=200), nullable=False),
        sa.Column("created_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_routes")),
        sa.UniqueConstraint("number", name=op.f("uq_inbound_routes_number")),
    )
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_leases")),
    )
    op.create_table(
        "workflow_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "trigger", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "actions", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_workflow_rules_name")),
    )
    op.create_table(
        "staleness_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column(
            "statuses", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("not_called_days", sa.Integer(), nullable=True),
        sa.Column("owner_deactivated", sa.Boolean(), nullable=False),
        sa.Column("every_minutes", sa.Integer(), nullable=False),
        sa.Column("last_run_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["contact_lists.id"],
            name=op.f("fk_staleness_rules_list_id_contact_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staleness_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_staleness_rules_name")),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_webhook_outbox_status")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["workflow_rules.id"],
            name=op.f("fk_webhook_outbox_rule_id_workflow_rules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
    )
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "agent_channels",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("changed_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IN ('voice', 'outbound_preview')", name=op.f("ck_agent_channels_channel")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agent_channels_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "channel", name=op.f("pk_agent_channels")),
    )
    op.create_table(
        "dnc_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_dnc_lists_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc_lists")),
        sa.UniqueConstraint("campaign_id", name=op.f("uq_dnc_lists_campaign_id")),
        sa.UniqueConstraint("name", name=op.f("uq_dnc_lists_name")),
    )
    op.create_table(
        "campaign_dnc_lists",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("dnc_list_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_dnc_lists_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dnc_list_id"],
            ["dnc_lists.id"],
            name=op.f("fk_campaign_dnc_lists_dnc_list_id_dnc_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "dnc_list_id", name=op.f("pk_campaign_dnc_lists")),
    )
    with op.batch_alter_table("campaign_dnc_lists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_dnc_lists_dnc_list_id"), ["dnc_list_id"], unique=False
        )

    op.create_table(
        "dnc_numbers",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=32), nullable=False),
        sa.Column("added_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["dnc_lists.id"],
            name=op.f("fk_dnc_numbers_list_id_dnc_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "e164", name=op.f("pk_dnc_numbers")),
    )
    with op.batch_alter_table("dnc_numbers", schema=None) as batch_op:
        batch_op.create_index("ix_dnc_numbers_e164", ["e164"], unique=False)

    op.create_table(
        "callbacks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("due_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('personal', 'any')", name=op.f("ck_callbacks_kind")),
        sa.CheckConstraint(
            "status IN ('scheduled', 'delivered', 'done', 'cancelled')",
            name=op.f("ck_callbacks_status"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_callbacks_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_callbacks_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_callbacks_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_callbacks_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
    )
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.create_index("ix_callbacks_due", ["campaign_id", "status", "due_at"], unique=False)
        batch_op.create_index(
            "uq_callbacks_pending",
            ["campaign_id", "record_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('scheduled', 'delivered')"),
            postgresql_where=sa.text("status IN ('scheduled', 'delivered')"),
        )

    op.create_table(
        "hopper",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("group_key", sa.String(length=64), nullable=True),
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("direct", sa.Boolean(), nullable=False),
        sa.Column("loaded_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_hopper_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_hopper_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "record_id", name=op.f("pk_hopper")),
    )
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.create_index("ix_hopper_group", ["campaign_id", "group_key"], unique=False)
        batch_op.create_index(
            "ix_hopper_owner", ["campaign_id", "owner_id", "position"], unique=False
        )

    op.create_table(
        "record_phones",
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_record_phones_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "position", name=op.f("pk_record_phones")),
    )
    with op.batch_alter_table("record_phones", schema=None) as batch_op:
        batch_op.create_index("ix_record_phones_e164", ["e164", "list_id"], unique=False)

    with op.batch_alter_table("campaign_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved_for", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("called_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("accept_by", callhopper.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_campaign_records_reserved_for_users"), "users", ["reserved_for"], ["id"]
        )

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "enforce_lead_ownership",
                sa.Boolean(),
                server_default=sa.text("(false)"),
                nullable=False,
            )
        )

    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_code", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "last_called_at", callhopper.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    # Index the numbers of the records already stored.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO record_phones (record_id, position, list_id, e164) "
            "SELECT r.id, p.ordinality - 1, r.list_id, p.value FROM records r "
            "CROSS JOIN LATERAL jsonb_array_elements_text(r.phones) WITH ORDINALITY AS p "
            "WHERE p.value IS NOT NULL"
        )
    else:
        op.execute(
            "INSERT INTO record_phones (record_id, position, list_id, e164) "
            "SELECT r.id, p.key, r.list_id, p.value FROM records r, json_each(r.phones) p "
            "WHERE p.value IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("last_called_at")
        batch_op.drop_column("last_code")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("enforce_lead_ownership")

    with op.batch_alter_table("campaign_records", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_campaign_records_reserved_for_users"), type_="foreignkey"
        )
        batch_op.drop_column("accept_by")
        batch_op.drop_column("called_at")
        batch_op.drop_column("reserved_for")

    with op.batch_alter_table("record_phones", schema=None) as batch_op:
        batch_op.drop_index("ix_record_phones_e164")

    op.drop_table("record_phones")
    with op.batch_alter_table("hopper", schema=None) as batch_op:
        batch_op.drop_index("ix_hopper_owner")
        batch_op.drop_index("ix_hopper_group")

    op.drop_table("hopper")
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_callbacks_pending",
            sqlite_where=sa.text("status IN ('scheduled', 'delivered')"),
            postgresql_where=sa.text("status IN ('scheduled', 'delivered')"),
        )
        batch_op.drop_index("ix_callbacks_due")

    op.drop_table("callbacks")
    with op.batch_alter_table("dnc_numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_dnc_numbers_e164")

    op.drop_table("dnc_numbers")
    with op.batch_alter_table("campaign_dnc_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_dnc_lists_dnc_list_id"))

    op.drop_table("campaign_dnc_lists")
    op.drop_table("dnc_lists")
    op.drop_table("agent_channels")
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_outbox_due")

    op.drop_table("webhook_outbox")
    op.drop_table("staleness_rules")
    op.drop_table("workflow_rules")
    op.drop_table("worker_leases")
    op.drop_table("inbound_routes")
