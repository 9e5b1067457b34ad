"""Wrap-up code sets and their codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.limits import MAX_CODE_LENGTH
from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.domain.wrapup import OwnerAction
from callhopper.store.models.base import Base, sql_values


class WrapupCodeSet(Base):
    __tablename__ = "wrapup_code_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class WrapupCode(Base):
    """A disposition (:class:`callhopper.domain.wrapup.WrapupCodeSpec`) in its set."""

    __tablename__ = "wrapup_codes"
    __table_args__ = (
        UniqueConstraint("set_id", "code", name="uq_wrapup_codes_set_code"),
        CheckConstraint(
            "retry_after_minutes IS NULL OR retry_after_minutes >= 0", name="retry_after"
        ),
        CheckConstraint(
            f"owner_action IS NULL OR owner_action IN ({sql_values(OwnerAction)})",
            name="owner_action",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(
        ForeignKey("wrapup_code_sets.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(MAX_CODE_LENGTH))
    label: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    counts_as_attempt: Mapped[bool] = mapped_column(Boolean, default=True)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    retry_after_minutes: Mapped[int | None] = mapped_column(Integer)
    adds_to_dnc: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_action: Mapped[str | None] = mapped_column(String(32))
