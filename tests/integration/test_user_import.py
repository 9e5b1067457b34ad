"""Users in bulk from a CSV file, through the API and the command line: every user with
their queues and skills in one transaction, or none of them with every problem's line,
field and reason."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from callhopper.cli import app
from tests.campaign_helpers import make_queue

GOOD = (
    "email,user_id,display_name,role,password,queues,skills\n"
    "ann@floor.test,ann,Ann,agent,correct horse,Sales|Support,Spanish\n"
    "ben@floor.test,,,,,Sales,\n"
    "cy@floor.test,cy,Cy,supervisor,,,\n"
)


def send(api: TestClient, text: str) -> object:
    return api.post(
        "/api/v1/users/import", content=text.encode(), headers={"Content-Type": "text/csv"}
    )


def setup_floor(api: TestClient) -> tuple[int, int, int]:
    sales, support = make_queue(api, [], name="Sales"), make_queue(api, [], name="Support")
    skill = api.post("/api/v1/skills", json={"name": "Spanish", "expression": "lang == 'es'"})
    assert skill.status_code == 201, skill.text
    return sales, support, int(skill.json()["id"])


def test_a_file_creates_every_user_with_queues_and_skills(
    api: TestClient, app_client: TestClient
) -> None:
    sales, support, spanish = setup_floor(api)
    response = send(api, GOOD)
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["created"] == 3 and body["user_ids"][0] == "ann" and body["user_ids"][2] == "cy"
    ann = api.get("/api/v1/users/ann").json()
    assert ann["role"] == "agent" and ann["display_name"] == "Ann"
    assert sorted(ann["queue_ids"]) == sorted([sales, support]) and ann["skill_ids"] == [spanish]
    ben = api.get(f"/api/v1/users/{body['user_ids'][1]}").json()
    assert ben["email"] == "ben@floor.test" and ben["queue_ids"] == [sales]
    assert ben["role"] == "agent" and ben["display_name"] == "ben@floor.test"
    assert api.get("/api/v1/users/cy").json()["role"] == "supervisor"
    # ann's password works; one audit entry names every user created.
    login = app_client.post(
        "/api/v1/auth/login", json={"email": "ann@floor.test", "password": "correct horse"}
    )
    assert login.status_code == 200, login.text
    (entry,) = api.get("/api/v1/audit", params={"action": "user.import"}).json()
    assert entry["after"]["users"] == body["user_ids"] and entry["after"]["with_password"] == 1


def test_one_bad_row_creates_nobody_and_every_problem_is_reported(api: TestClient) -> None:
    setup_floor(api)
    api.post("/api/v1/users", json={"email": "taken@floor.test", "user_id": "taken"})
    before = len(api.get("/api/v1/users").json())
    text = (
        "email,user_id,role,password,queues,skills\n"
        "ok@floor.test,ok,agent,,Sales,\n"
        "not-an-email,,agent,,,\n"
        "taken@floor.test,taken,agent,,,\n"
        "x@floor.test,x,wizard,short,Nowhere,Latin\n"
        "OK@floor.test,,agent,,,\n"
        "y@floor.test,y\n"
    )
    response = send(api, text)
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "invalid_input" and error["details"]["field"] == "file"
    assert "5 of 6 row(s) have problems: no user was created" in error["message"]
    problems = {(p["line"], p["field"]) for p in error["details"]["problems"]}
    assert problems == {
        (3, "email"),
        (4, "user_id"),
        (4, "email"),
        (5, "role"),
        (5, "password"),
        (5, "queues"),
        (5, "skills"),
        (6, "email"),  # the same email as line 2, in another case
        (7, "row"),
    }
    assert len(api.get("/api/v1/users").json()) == before


def test_the_header_must_name_known_columns(api: TestClient) -> None:
    response = send(api, "mail,name\na@b.test,A\n")
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "unknown column(s) 'mail', 'name'" in response.json()["error"]["message"]  # type: ignore[attr-defined]


def test_the_command_line_imports_or_prints_every_problem(
    api: TestClient, db_url: str, tmp_path: Path
) -> None:
    setup_floor(api)
    runner = CliRunner()
    env = {"CALLHOPPER_DATABASE_URL": db_url}
    bad = tmp_path / "bad.csv"
    bad.write_text("email,queues\nok@floor.test,Sales\nnope,Nowhere\n")
    refused = runner.invoke(app, ["users", "import", str(bad)], env=env)
    assert refused.exit_code == 1
    assert "line 3: email:" in refused.output and "line 3: queues: no queue named" in refused.output
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    done = runner.invoke(app, ["users", "import", str(good)], env=env)
    assert done.exit_code == 0, done.output
    assert "created 3 users" in done.output
    assert api.get("/api/v1/users/ann").json()["email"] == "ann@floor.test"
