"""Contact lists through the API: create, CSV import and append, JSON insert, reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

DATA = Path(__file__).parent.parent / "data"
ACCOUNTS = (DATA / "accounts_13.csv").read_bytes()

LIST_BODY: dict[str, Any] = {
    "name": "Accounts",
    "columns": [
        {"name": "account", "required": True},
        "first_name",
        "last_name",
        "state",
        "zip",
        "home_phone",
        "cell_phone",
        "agent",
    ],
    "phone_columns": [
        {"column": "cell_phone", "type": "cell"},
        {"column": "home_phone", "type": "home"},
    ],
    "timezone_source": {"kind": "postal_code", "column": "zip"},
    "agent_owned_column": "agent",
}


def create_list(api: TestClient, **changes: Any) -> dict[str, Any]:
    response = api.post("/api/v1/contact-lists", json={**LIST_BODY, **changes})
    assert response.status_code == 201, response.text
    return dict(response.json())


def post_csv(api: TestClient, list_id: int, content: bytes, **params: str) -> Any:
    return api.post(
        f"/api/v1/contact-lists/{list_id}/imports",
        content=content,
        headers={"Content-Type": "text/csv"},
        params=params,
    )


def test_ten_good_rows_kept_three_bad_rows_reported(api: TestClient) -> None:
    contact_list = create_list(api)
    response = post_csv(api, contact_list["id"], ACCOUNTS, source="accounts_13.csv")
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows_total"], report["rows_accepted"], report["rows_rejected"]) == (13, 10, 3)
    rejections = {r["line"]: r for r in report["rejections"]}
    assert sorted(rejections) == [12, 13, 14]
    assert rejections[12]["reason"] == "wrong column count: expected 8, found 6"
    assert "home_phone" in rejections[13]["reason"]
    assert "'not a phone' is not a phone number" in rejections[13]["reason"]
    assert rejections[13]["column"] == "home_phone"
    assert rejections[14]["reason"] == "required value missing in column 'account'"
    assert report["rejections_truncated"] is False

    assert api.get(f"/api/v1/contact-lists/{contact_list['id']}").json()["record_count"] == 10
    records = api.get(f"/api/v1/contact-lists/{contact_list['id']}/records").json()
    first = records[0]
    assert first["data"]["account"] == "A-001"
    assert first["phones"] == ["+16022345678", "+16025550100"]  # cell first: dialling order
    assert first["tz"] == "America/Phoenix"
    by_account = {r["data"]["account"]: r for r in records}
    assert by_account["A-009"]["phones"] == [None, "+442079460958"]
    assert by_account["A-004"]["tz"] == "America/Chicago"

    # The report is kept and can be read again.
    stored = api.get(
        f"/api/v1/contact-lists/{contact_list['id']}/imports/{report['import_id']}/rejections"
    ).json()
    assert [r["line"] for r in stored] == [12, 13, 14]


def test_rerun_with_key_column_reports_duplicates(api: TestClient) -> None:
    contact_list = create_list(api, key_column="account")
    first = post_csv(api, contact_list["id"], ACCOUNTS).json()
    assert first["rows_accepted"] == 10
    again = post_csv(api, contact_list["id"], ACCOUNTS).json()
    assert again["rows_accepted"] == 0
    assert again["rows_rejected"] == 13
    duplicates = [r for r in again["rejections"] if "duplicate key" in r["reason"]]
    assert len(duplicates) == 10
    assert duplicates[0]["reason"] == "duplicate key 'A-001' (already in the list)"
    assert api.get(f"/api/v1/contact-lists/{contact_list['id']}").json()["record_count"] == 10


def test_duplicate_key_inside_one_file_names_the_first_line(api: TestClient) -> None:
    contact_list = create_list(api, key_column="account")
    content = b"account,home_phone\nK1,(602) 234-5678\nK2,(602) 234-5679\nK1,(602) 234-5670\n"
    report = post_csv(api, contact_list["id"], content).json()
    assert report["rows_accepted"] == 2
    assert report["rejections"] == [
        {"line": 4, "column": "account", "reason": "duplicate key 'K1' (first seen on line 2)"}
    ]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_and_bom_are_understood(api: TestClient, delimiter: str) -> None:
    contact_list = create_list(api)
    content = "\ufeff" + ACCOUNTS.decode().replace(",", delimiter)
    report = post_csv(api, contact_list["id"], content.encode()).json()
    assert report["rows_accepted"] == 10


def test_multipart_upload_with_mapping(api: TestClient) -> None:
    contact_list = create_list(api)
    content = b"Account No,Phone,Ignored\nB-1,(602) 234-5678,x\nB-2,(602) 234-5679,y\n"
    response = api.post(
        f"/api/v1/contact-lists/{contact_list['id']}/imports",
        files={"file": ("leads.csv", content, "text/csv")},
        data={"mapping": '{"Account No": "account", "Phone": "home_phone", "Ignored": null}'},
    )
    assert response.status_code == 201, response.text
    assert response.json()["rows_accepted"] == 2
    assert response.json()["source"] == "leads.csv"


def test_unknown_header_refuses_the_file_and_stores_nothing(api: TestClient) -> None:
    contact_list = create_list(api)
    response = post_csv(
        api, contact_list["id"], b"account,home_phone,colour\nA,(602) 234-5678,red\n"
    )
    assert response.status_code == 422
    assert "'colour'" in response.json()["error"]["message"]
    assert api.get(f"/api/v1/contact-lists/{contact_list['id']}").json()["record_count"] == 0
    assert api.get(f"/api/v1/contact-lists/{contact_list['id']}/imports").json() == []


def test_invalid_utf8_refuses_the_whole_file(api: TestClient) -> None:
    contact_list = create_list(api)
    content = b"account,home_phone\nA,(602) 234-5678\nB\xff\xfe,(602) 234-5679\n"
    response = post_csv(api, contact_list["id"], content)
    assert response.status_code == 422
    assert "UTF-8" in response.json()["error"]["message"]
    assert api.get(f"/api/v1/contact-lists/{contact_list['id']}").json()["record_count"] == 0


def test_empty_file_and_missing_required_header(api: TestClient) -> None:
    contact_list = create_list(api)
    assert post_csv(api, contact_list["id"], b"").status_code == 422
    response = post_csv(api, contact_list["id"], b"home_phone\n(602) 234-5678\n")
    assert response.status_code == 422
    assert "required column(s) account" in response.json()["error"]["message"]


def test_wrong_content_type_is_415(api: TestClient) -> None:
    contact_list = create_list(api)
    response = api.post(
        f"/api/v1/contact-lists/{contact_list['id']}/imports",
        json={"not": "csv"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_json_insert_reports_items_by_number(api: TestClient) -> None:
    contact_list = create_list(api)
    response = api.post(
        f"/api/v1/contact-lists/{contact_list['id']}/records",
        json={
            "records": [
                {"account": "J-1", "home_phone": "(602) 234-5678", "zip": "85004"},
                {"account": "J-2", "home_phone": "12"},
                {"account": "J-3", "home_phone": "(602) 234-5679", "favourite": "blue"},
                {"account": "J-4", "cell_phone": 6022345670},
            ]
        },
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["rows_accepted"] == 2
    assert [(r["line"], r["column"]) for r in report["rejections"]] == [
        (2, "home_phone"),
        (3, "favourite"),
    ]
    assert report["format"] == "json"


def test_list_schema_errors_name_the_problem(api: TestClient) -> None:
    response = api.post(
        "/api/v1/contact-lists",
        json={"name": "Bad", "columns": ["a", "b"], "phone_columns": ["c"]},
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "phone column 'c' is not a column of the list"

    response = api.post(
        "/api/v1/contact-lists",
        json={**LIST_BODY, "name": "Bad2", "timezone_source": {"kind": "iana", "column": "tz"}},
    )
    assert "time-zone column 'tz'" in response.json()["error"]["message"]


def test_duplicate_list_name_conflicts(api: TestClient) -> None:
    create_list(api)
    response = api.post("/api/v1/contact-lists", json=LIST_BODY)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_exists"


def test_schema_change_rules_once_records_exist(api: TestClient) -> None:
    contact_list = create_list(api)
    post_csv(api, contact_list["id"], ACCOUNTS)
    url = f"/api/v1/contact-lists/{contact_list['id']}"
    schema = {k: v for k, v in LIST_BODY.items() if k != "name"}
    added = {**schema, "columns": [*schema["columns"], {"name": "notes", "editable": True}]}
    assert api.patch(url, json={"schema": added}).status_code == 200
    moved = {**added, "phone_columns": ["home_phone"]}
    response = api.patch(url, json={"schema": moved})
    assert response.status_code == 422
    assert "phone_columns cannot change" in response.json()["error"]["message"]


def test_request_validation_errors_use_the_error_shape(api: TestClient) -> None:
    response = api.post("/api/v1/contact-lists", json={"name": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert "columns" in error["message"]


def test_unknown_list_is_404(api: TestClient) -> None:
    response = post_csv(api, 999, ACCOUNTS)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_import_is_audited(api: TestClient) -> None:
    contact_list = create_list(api)
    post_csv(api, contact_list["id"], ACCOUNTS)
    entries = api.get("/api/v1/audit", params={"action": "contact_list.import"}).json()
    assert len(entries) == 1
    assert entries[0]["after"]["rows_accepted"] == 10
    assert entries[0]["target_id"] == str(contact_list["id"])


def test_nul_characters_reject_their_row_and_keep_the_others(api: TestClient) -> None:
    list_id = create_list(api, key_column="account", default_timezone="America/Phoenix")["id"]
    report = post_csv(
        api, list_id, b"account,cell_phone,first_name\nN1,6022345678,ok\nN2,6022345679,x\x00y\n"
    ).json()
    assert (report["rows_accepted"], report["rows_rejected"]) == (1, 1)
    assert report["rejections"][0]["line"] == 3
    assert "NUL" in report["rejections"][0]["reason"]
    report = api.post(
        f"/api/v1/contact-lists/{list_id}/records",
        json={
            "records": [
                {"account": "N3", "cell_phone": "6022345670", "first_name": "a\u0000b"},
                {"account": "N4", "cell_phone": "6022345671"},
                {"account": "N5", "cell_phone": "6022345672", "no\u0000such": "x"},
            ]
        },
    ).json()
    assert (report["rows_accepted"], report["rows_rejected"]) == (1, 2)
    assert [r["line"] for r in report["rejections"]] == [1, 3]
    found = api.get(f"/api/v1/contact-lists/{list_id}/records").json()
    assert sorted(r["key"] for r in found) == ["N1", "N4"]


def test_an_overlong_field_rejects_its_row_only(api: TestClient) -> None:
    list_id = create_list(api, default_timezone="America/Phoenix")["id"]
    long = b"y" * 200_000
    report = post_csv(
        api,
        list_id,
        b"account,cell_phone,first_name\nL1,6022345678," + long + b"\nL2,6022345679,ok\n",
    ).json()
    assert (report["rows_accepted"], report["rows_rejected"]) == (1, 1)
    assert report["rejections"][0]["line"] == 2
    assert "value too long" in report["rejections"][0]["reason"]


def test_a_zip_code_that_names_no_zone_keeps_the_row_and_warns(api: TestClient) -> None:
    contact_list = create_list(api, default_timezone="America/Phoenix")
    content = (
        b"account,zip,home_phone\n"
        b"Z-1,85004,(602) 234-5678\n"  # a good ZIP code: no warning
        b"Z-2,ABCDE,(212) 234-5678\n"  # not a ZIP code: the New York prefix decides
        b"Z-3,00000,(800) 234-5678\n"  # no known zone, toll-free number: the list's default
    )
    response = post_csv(api, contact_list["id"], content)
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows_accepted"], report["rows_rejected"], report["rows_warned"]) == (3, 0, 2)
    assert report["warnings"] == [
        {
            "line": 3,
            "column": "zip",
            "value": "ABCDE",
            "reason": "'ABCDE' is not a US ZIP code with a known time zone",
            "zone": "America/New_York",
            "zone_from": "the prefix of phone number +12122345678",
        },
        {
            "line": 4,
            "column": "zip",
            "value": "00000",
            "reason": "'00000' is not a US ZIP code with a known time zone",
            "zone": "America/Phoenix",
            "zone_from": "the list's default time zone",
        },
    ]
    records = api.get(f"/api/v1/contact-lists/{contact_list['id']}/records").json()
    assert {r["key"] or r["data"]["account"]: r["tz"] for r in records} == {
        "Z-1": "America/Phoenix",
        "Z-2": "America/New_York",
        "Z-3": "America/Phoenix",
    }
