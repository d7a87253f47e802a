"""The statement through HTTP: every entry with its seq and hash, newest first; cursor pages
that cover each entry once at every page size, with and without a date range; the CSV export.

The history: one credit then four redemptions, seq 1..5 of a fresh volunteer's account.
"""
import csv
import io
import math
import re

import pytest

from tests.e2e.conftest import balance
from tests.support import wait_until

HASH = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def history(api, center):
    """(center, statement items newest first) after earn, then 4 redemptions of 10 points."""
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "社区环境清洁", "category": "environment",
        "starts_at": "2026-11-18T09:00:00+08:00", "ends_at": "2026-11-18T15:00:00+08:00"},
        center["staff"])
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": center["volunteer_id"], "minutes": 360}]}, center["staff"])
    approved = api.post(f"/api/v1/hours/{sheet['records'][0]['id']}/approve",
                        token=center["staff"])
    assert approved.status_code == 200, approved.text
    wait_until(lambda: balance(api, center)["balance"] >= 40, timeout=15,
               message="the approval's credit")
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "毛巾", "cost_points": 10,
                                           "stock": 10}, center["staff"])
    for _ in range(4):
        api.created("/api/v1/redemptions", {"reward_id": gift["id"],
                                            "volunteer_id": center["volunteer_id"]},
                    center["volunteer"])
    return center, page(api, center)["items"]


def page(api, center, **params):
    response = api.get(f"/api/v1/volunteers/{center['volunteer_id']}/statement",
                       token=center["volunteer"], params=params)
    assert response.status_code == 200, response.text
    return response.json() if params.get("format") != "csv" else response


def walk(api, center, **params):
    """Follow next_cursor from the first page: (seqs in order, number of pages)."""
    seqs, pages, cursor = [], 0, None
    while True:
        answer = page(api, center, **params, **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert answer["items"], f"page {pages} is empty: a cursor was handed out for nothing"
        seqs += [item["seq"] for item in answer["items"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            return seqs, pages


def test_every_entry_shows_its_seq_and_hash_newest_first(history):
    center, items = history
    assert [item["seq"] for item in items] == [5, 4, 3, 2, 1]
    assert [item["id"] for item in items] == [f"{center['volunteer_id']}:{n}"
                                              for n in (5, 4, 3, 2, 1)]
    assert [item["kind"] for item in items] == ["redeem"] * 4 + ["earn"]
    assert all(HASH.match(item["hash"]) for item in items)
    assert len({item["hash"] for item in items}) == 5
    assert all(item["owed_after"] == 0 for item in items)
    earned = items[-1]
    assert earned["rule"]["arithmetic"] and earned["rule"]["version"]
    assert sum(item["points"] for item in items) == items[0]["balance_after"]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 6])
def test_cursor_pages_cover_every_entry_once_and_end_without_an_empty_page(api, history,
                                                                           limit):
    center, items = history
    seqs, pages = walk(api, center, limit=limit)
    assert seqs == [5, 4, 3, 2, 1]
    assert pages == math.ceil(5 / limit)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_cursor_pages_within_a_date_range(api, history, limit):
    center, items = history
    at = {item["seq"]: item["at"] for item in items}
    assert walk(api, center, limit=limit, **{"from": at[2], "to": at[4]})[0] == [4, 3, 2]
    assert walk(api, center, limit=limit, **{"from": at[3]})[0] == [5, 4, 3]
    assert walk(api, center, limit=limit, to=at[2])[0] == [2, 1]
    assert walk(api, center, limit=limit, **{"from": at[5], "to": at[5]})[0] == [5]


def test_a_page_is_the_same_whichever_way_it_is_reached(api, history):
    center, items = history
    second = page(api, center, limit=2, cursor=page(api, center, limit=2)["next_cursor"])
    assert second["items"] == items[2:4]  # hashes and all: the history did not change


def test_the_csv_export_carries_seq_and_hash_and_pages_like_json(api, history):
    center, items = history
    response = page(api, center, format="csv", limit=3)
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # spreadsheets then read UTF-8
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(int(r["seq"]), r["hash"], int(r["owed_after"])) for r in rows] == \
        [(item["seq"], item["hash"], item["owed_after"]) for item in items[:3]]
    assert response.headers["X-Next-Cursor"] == "3"
    rest = page(api, center, format="csv", limit=3, cursor="3")
    assert "X-Next-Cursor" not in rest.headers
    rows = list(csv.DictReader(io.StringIO(rest.content.decode("utf-8-sig"))))
    assert [int(r["seq"]) for r in rows] == [2, 1]
    assert rows[-1]["rule"] == items[-1]["rule"]["arithmetic"]


def test_the_openapi_document_describes_a_statement_entry(api, history):
    center, items = history
    document = api.get("/api/v1/openapi.json").json()
    answer = document["paths"]["/api/v1/volunteers/{volunteer_id}/statement"]["get"][
        "responses"]["200"]["content"]
    assert answer["application/json"]["schema"]["properties"]["items"]["items"] == \
        {"$ref": "#/components/schemas/LedgerEntry"}
    entry = document["components"]["schemas"]["LedgerEntry"]
    assert {"seq", "hash"} <= set(entry["required"]) and "owed_after" in entry["properties"]
    assert all(set(item) <= set(entry["properties"]) for item in items)
    assert "text/csv" in answer
