"""Metabase dashboards as code (local_stack/docker/metabase/): every card's SQL runs on the marts of
the local PostgreSQL as the read-only dashboard login and returns rows; the provisioning script
creates every card and one dashboard holding them (against a fake Metabase API: Metabase itself
runs only in docker-compose.yaml)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from include import config

REPO = Path(__file__).resolve().parents[2]
METABASE = REPO / "local_stack" / "docker" / "metabase"
sys.path.insert(0, str(METABASE))

import provision  # noqa: E402

CARDS = provision.load_cards()


def test_every_issue_card_exists() -> None:
    assert [c.name for c in CARDS] == [
        "CTR trend",
        "Device performance",
        "Category analysis",
        "Banner position",
    ]
    for card in CARDS:
        assert card.display in ("line", "bar", "table")
        if card.display != "table":
            assert card.x and card.y, f"{card.name}: a chart needs x and y"


@pytest.mark.integration
@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.name)
def test_card_sql_returns_rows_on_the_marts(card: provision.Card, seeded_marts: Any) -> None:
    import psycopg

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD")) as conn:
        cur = conn.execute(card.sql)
        columns = [d.name for d in cur.description]
        rows = cur.fetchall()
    assert rows, f"{card.name}: no rows"
    assert set(card.x + card.y) <= set(
        columns
    ), f"{card.name}: chart columns {card.x + card.y} not in {columns}"


class FakeMetabase:
    """Just enough of Metabase's REST API to run provision() and inspect what it created."""

    def __init__(self, setup_done: bool = False) -> None:
        self.setup_done = setup_done
        self.objects: dict[str, dict[int, dict[str, Any]]] = {
            "database": {},
            "collection": {},
            "card": {},
            "dashboard": {},
        }
        self.calls: list[tuple[str, str]] = []
        self.session: dict[str, str] = {}

    def _create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        new_id = len(self.objects[kind]) + 1
        self.objects[kind][new_id] = {**body, "id": new_id}
        return self.objects[kind][new_id]

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        self.calls.append((method, path))
        if path == "/api/session/properties":
            return {"has-user-setup": self.setup_done, "setup-token": "tok"}
        if path in ("/api/setup", "/api/session"):
            self.setup_done = True
            return {"id": "session-1"}
        assert self.session.get("token") == "session-1", f"{method} {path} without a session"
        kind = path.split("/")[2].split("?")[0]
        parts = path.split("?")[0].split("/")
        if method == "GET":
            items = list(self.objects[kind].values())
            return {"data": items} if kind == "database" else items
        if method == "POST":
            return self._create(kind, body)
        if method == "PUT":
            self.objects[kind][int(parts[3])].update(body)
            return self.objects[kind][int(parts[3])]
        raise AssertionError(f"unexpected {method} {path}")


def test_provisioning_creates_cards_and_a_dashboard_idempotently() -> None:
    fake = FakeMetabase()
    cfg = {**config.resolve(), "METABASE_ADMIN_PASSWORD": "pw", "PG_DASHBOARD_PASSWORD": "secret"}
    first = provision.provision(fake, cfg, "postgres", 5432)
    assert ("POST", "/api/setup") in fake.calls
    db = fake.objects["database"][first["database_id"]]
    assert db["engine"] == "postgres" and db["details"]["user"] == cfg["PG_DASHBOARD_USER"]
    cards = fake.objects["card"]
    assert sorted(c["name"] for c in cards.values()) == sorted(c.name for c in CARDS)
    for card in cards.values():
        query = card["dataset_query"]
        assert query["type"] == "native" and query["database"] == first["database_id"]
        assert query["native"]["query"] == next(c.sql for c in CARDS if c.name == card["name"])
    dashboard = fake.objects["dashboard"][first["dashboard_id"]]
    assert sorted(d["card_id"] for d in dashboard["dashcards"]) == sorted(cards)

    second = provision.provision(fake, cfg, "postgres", 5432)
    assert second == first, "a second run must update in place, not duplicate"
    assert len(fake.objects["card"]) == len(CARDS) and len(fake.objects["dashboard"]) == 1
    assert ("POST", "/api/session") in fake.calls
