"""Users, their roles and their credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callhopper.domain.actors import TokenKind
from callhopper.domain.limits import MAX_ADDRESS_LENGTH, MAX_EMAIL_LENGTH, MAX_LANGUAGE_CODE_LENGTH
from callhopper.domain.names import MAX_NAME_LENGTH
from callhopper.store.models.base import Base, sql_values
from callhopper.store.types import JSONDoc


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
    #: The pages' language the user chose (``None``: the browser's).
    language: Mapped[str | None] = mapped_column(String(MAX_LANGUAGE_CODE_LENGTH))


class SignInFailure(Base):
    """A sign-in that failed: counted per account and per client address to slow down
    password guessing (in the database, so every process sees the same counts)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_key_at", "email_key", "at"),
        Index("ix_sign_in_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The email as typed, lower-cased (whether or not a user has it).
    email_key: Mapped[str] = mapped_column(String(MAX_EMAIL_LENGTH))
    #: The client's address.
    address: Mapped[str] = mapped_column(String(MAX_ADDRESS_LENGTH))
    at: Mapped[datetime]


class AuthToken(Base):
    """A login session (cookie) or an API token. Only a hash of the secret is kept."""

    __tablename__ = "auth_tokens"
    __table_args__ = (CheckConstraint(f"kind IN ({sql_values(TokenKind)})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the secret, so a user can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
