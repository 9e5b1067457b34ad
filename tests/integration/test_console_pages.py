"""The console without a browser (Starlette's TestClient): who may open it, a CSV upload
with its preview and mapping, the import in the background with its report, and the
rejections as CSV."""

from __future__ import annotations

import csv
import io
import re
import time

from fastapi.testclient import TestClient

from callhopper.web.console import common
from callhopper.web.i18n import translations
from tests.integration.test_web_pages import sign_in, token_of
from tests.support import MakeUser

_RUN = re.compile(r"/console/lists/(\d+)/runs/([\w-]+)$")
CSV = (
    "account,name,cell,owner\n"
    "A-1,Ann,(602) 555-0101,ana\n"
    "A-2,Bob,not a number,ana\n"
    "A-3,Cy,(602) 555-0103,ana\n"
    "A-3,Dup,(602) 555-0104,ana\n"
)


def english(message: str) -> str:
    return translations("en").gettext(message)


def test_agents_are_refused_the_console_with_a_page_that_says_why(
    app_client: TestClient, make_user: MakeUser
) -> None:
    agent = make_user("agent", email="ana@example.com", user_id="ana")
    sign_in(app_client, agent)
    for path in ("/console", "/console/lists", "/console/lists/new"):
        refused = app_client.get(path)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("text/html")
        assert english(common.REFUSED) in refused.text
        assert 'href="/workspace"' in refused.text


def wait_for_run(client: TestClient, path: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = client.get(path, headers={"HX-Request": "true"})
        assert page.status_code == 200, page.text
        if "hx-trigger" not in page.text:
            return page.text
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def test_an_upload_is_previewed_mapped_imported_in_the_background_and_reported(
    app_client: TestClient, make_user: MakeUser
) -> None:
    admin = make_user("admin", email="ada@example.com")
    make_user("agent", email="ana@example.com", user_id="ana")
    sign_in(app_client, admin)
    token = token_of(app_client.get("/console/lists/new").text)
    preview = app_client.post(
        "/console/lists/new",
        data={"csrf_token": token},
        files={"file": ("people.csv", CSV.encode(), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    assert "Bob" in preview.text and "(602) 555-0101" in preview.text
    upload = re.search(r'name="token" value="([^"]+)"', preview.text)
    assert upload is not None
    created = app_client.post(
        "/console/lists/create",
        data={
            "csrf_token": token,
            "token": upload.group(1),
            "source": "people.csv",
            "name": "People",
            **{f"keep-{i}": "on" for i in range(4)},
            **{f"name-{i}": n for i, n in enumerate(["account", "name", "cell", "owner"])},
            "phone-2": "cell",
            "key_column": "0",
            "agent_owned_column": "3",
            "default_timezone": "America/Phoenix",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    found = _RUN.search(created.headers["location"])
    assert found is not None
    report = wait_for_run(app_client, created.headers["location"])
    assert 'id="rows-rejected">2<' in report
    list_id = found.group(1)
    rejections = app_client.get(re.search(r'href="([^"]+rejections.csv)"', report).group(1))  # type: ignore[union-attr]
    rows = list(csv.reader(io.StringIO(rejections.content.decode("utf-8-sig"))))
    assert rows[0] == ["line", "reason"] and [r[0] for r in rows[1:]] == ["3", "5"]
    listing = app_client.get(f"/console/lists/{list_id}")
    assert "A-1" in listing.text and "A-3" in listing.text and "A-2" not in listing.text
    searched = app_client.get(f"/console/lists/{list_id}?column=account&value=A-3")
    assert "A-1" not in searched.text.split("records-table")[1]
