"""The command line: import with a report, users, schema checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from callhopper.cli import app
from callhopper.store.db import Database
from callhopper.store.uow import SqlUnitOfWork

DATA = Path(__file__).parent.parent / "data"
runner = CliRunner()


def invoke(db_url: str, *args: str) -> str:
    result = runner.invoke(app, [*args], env={"CALLHOPPER_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    return result.output


def create_args() -> list[str]:
    return [
        "import",
        str(DATA / "accounts_13.csv"),
        "--list",
        "Accounts",
        "--create",
        "--phone-column",
        "cell_phone:cell",
        "--phone-column",
        "home_phone:home",
        "--timezone-column",
        "postal_code:zip",
        "--agent-owned-column",
        "agent",
        "--required",
        "account",
        "--key-column",
        "account",
        "--workers",
        "0",
    ]


def test_import_keeps_good_rows_and_prints_every_rejection(db_url: str, db: Database) -> None:
    output = invoke(db_url, *create_args())
    assert "created contact list 'Accounts'" in output
    assert "13 rows, 10 accepted, 3 rejected" in output
    assert "line 12: wrong column count: expected 8, found 6" in output
    assert "line 13: column 'home_phone': 'not a phone' is not a phone number" in output
    assert "line 14: " in output  # missing key: the required account
    with SqlUnitOfWork(db).read() as tx:
        contact_list = tx.lists.by_name("Accounts")
        assert tx.lists.record_count(contact_list.id) == 10


def test_reimport_reports_duplicates_instead_of_doubling(db_url: str, db: Database) -> None:
    invoke(db_url, *create_args())
    output = invoke(db_url, *create_args())
    assert "13 rows, 0 accepted, 13 rejected" in output
    assert "line 2: duplicate key 'A-001' (already in the list)" in output
    with SqlUnitOfWork(db).read() as tx:
        contact_list = tx.lists.by_name("Accounts")
        assert tx.lists.record_count(contact_list.id) == 10


def test_import_with_worker_processes_gives_the_same_report(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    # Enough rows for several batches, so the pool really runs.
    lines = ["account,home_phone"]
    lines += [f"W-{n},(602) 234-{n:04d}" for n in range(1000, 1450)]
    lines[100] = "W-bad,555"
    lines[300] = "W-bad2"
    path = tmp_path / "w.csv"
    path.write_text("\n".join(lines) + "\n")
    args = [
        "import",
        str(path),
        "--list",
        "W",
        "--create",
        "--phone-column",
        "home_phone",
        "--key-column",
        "account",
        "--default-timezone",
        "America/Phoenix",
    ]
    env = {"CALLHOPPER_DATABASE_URL": db_url, "CALLHOPPER_IMPORT_BATCH_ROWS": "100"}
    result = runner.invoke(app, [*args, "--workers", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert "450 rows, 448 accepted, 2 rejected" in result.output
    assert result.output.index("line 101:") < result.output.index("line 301:")


def test_import_into_missing_list_fails_cleanly(db_url: str) -> None:
    result = runner.invoke(
        app,
        ["import", str(DATA / "accounts_13.csv"), "--list", "Nope"],
        env={"CALLHOPPER_DATABASE_URL": db_url},
    )
    assert result.exit_code == 1
    assert "no contact list named 'Nope'" in result.output


def test_users_create_and_token(db_url: str) -> None:
    output = invoke(
        db_url,
        "users",
        "create",
        "--email",
        "Boss@Example.com",
        "--role",
        "admin",
        "--password",
        "long-enough",
        "--user-id",
        "boss",
    )
    assert "user_id boss" in output
    token = invoke(db_url, "users", "token", "boss@example.com").strip()
    assert token.startswith("chp_")
    assert "boss" in invoke(db_url, "users", "list")


def test_users_create_refuses_a_short_password(db_url: str) -> None:
    result = runner.invoke(
        app,
        ["users", "create", "--email", "a@example.com", "--password", "short"],
        env={"CALLHOPPER_DATABASE_URL": db_url},
    )
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output


def test_demo_creates_its_data_once(db_url: str, db: Database) -> None:
    first = invoke(db_url, "demo", "--no-serve")
    assert "60 records" in first and "campaign 'Demo collections', running" in first
    second = invoke(db_url, "demo", "--no-serve")
    assert "already present" in second
    with SqlUnitOfWork(db).read() as tx:
        campaign = tx.campaigns.get(1)
        assert (campaign.state, campaign.agent_owned_column) == ("on", "agent")
        counts = tx.campaigns.error_counts(1)
        assert (counts["invalid_email"], counts["not_in_queue"]) == (1, 1)
        # And a running predictive campaign of the same queue, for the dialing engine.
        predictive = tx.campaigns.get(2)
        assert (predictive.mode, predictive.state) == ("predictive", "on")
        assert predictive.queue_id == campaign.queue_id and predictive.settings.caller_ids


@pytest.mark.parametrize("backend", ["sqlite"])
def test_db_status_and_upgrade_on_an_empty_database(tmp_path: Path, backend: str) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert invoke(url, "db", "status").startswith("empty")
    assert "empty ->" in invoke(url, "db", "upgrade")
    assert invoke(url, "db", "status").startswith("current")


MAPPED_CSV = (
    "\ufeffAcct;Vorname;Handy;Extra\nM-1;Jurgen;+49 30 123456;x\nM-2;Taro;(602) 555-0177;y\n"
)


def mapped_import(db_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    file = tmp_path / "map.csv"
    file.write_text(MAPPED_CSV, encoding="utf-8")
    result = runner.invoke(
        app,
        ["import", str(file), "--list", "Mapped", "--create", "--workers", "0", *args],
        env={"CALLHOPPER_DATABASE_URL": db_url},
    )
    return result.exit_code, result.output


def test_create_uses_the_mapping_for_columns_and_options(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    code, output = mapped_import(
        db_url,
        tmp_path,
        "--phone-column",
        "cell_phone:cell",
        "--key-column",
        "account",
        "--default-timezone",
        "America/Phoenix",
        "--mapping",
        '{"Acct": "account", "Vorname": "first_name", "Handy": "cell_phone", "Extra": null}',
    )
    assert code == 0, output
    assert "with columns account, first_name, cell_phone\n" in output
    assert "2 rows, 2 accepted, 0 rejected" in output
    with SqlUnitOfWork(db).read() as tx:
        schema = tx.lists.by_name("Mapped").schema
    assert schema.column_names == ["account", "first_name", "cell_phone"]
    assert schema.key_column == "account"


def test_create_matches_option_columns_in_any_case(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    code, output = mapped_import(
        db_url,
        tmp_path,
        "--phone-column",
        "handy:cell",
        "--key-column",
        "acct",
        "--default-timezone",
        "America/Phoenix",
        "--mapping",
        '{"Extra": null}',
    )
    assert code == 0, output
    with SqlUnitOfWork(db).read() as tx:
        schema = tx.lists.by_name("Mapped").schema
    assert schema.column_names == ["Acct", "Vorname", "Handy"]
    assert (schema.key_column, schema.phone_columns[0].column) == ("Acct", "Handy")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phone-column", "Handy", "--key-column", "Handy"], "error: key column 'Handy' cannot"),
        (["--phone-column", "Handy:mobile"], "the type is one of cell, home, work, other"),
        (["--phone-column", "Nope"], "--phone-column 'Nope' is not a column of the file"),
        (["--phone-column", "Handy", "--mapping", "{"], "--mapping is not JSON"),
    ],
)
def test_create_errors_are_one_clean_line(
    db_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    code, output = mapped_import(db_url, tmp_path, *args)
    assert code == 1
    assert message in output
    assert "validation error" not in output and "Traceback" not in output
