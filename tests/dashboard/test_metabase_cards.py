"""Metabase dashboards as code (local_stack/docker/metabase/): every card's SQL runs on the marts of
the local PostgreSQL as the read-only dashboard login and returns rows whose ratios are the metric
contract's (include/metrics_contract.py); the provisioning script creates every card and one
dashboard holding them (against a fake Metabase API: Metabase itself runs only in
docker-compose.yaml)."""

from __future__ import annotations

import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from include import config
from include import metrics_contract as contract

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


def run_card(card: provision.Card) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), row_factory=dict_row) as conn:
        return conn.execute(card.sql).fetchall()


@pytest.mark.integration
@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.name)
def test_card_sql_returns_rows_on_the_marts(card: provision.Card, seeded_marts: Any) -> None:
    rows = run_card(card)
    assert rows, f"{card.name}: no rows"
    assert set(card.x + card.y) <= set(
        rows[0]
    ), f"{card.name}: chart columns {card.x + card.y} not in {list(rows[0])}"


@pytest.mark.integration
@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.name)
def test_card_ratios_are_the_contract_ratios_of_its_rows(card: provision.Card, seeded_marts: Any) -> None:
    rows = run_card(card)
    shown = [r for r in contract.RATIOS if {r.name, r.numerator, r.denominator} <= set(rows[0])]
    assert shown, f"{card.name}: shows no ratio with its numerator and denominator"
    for row in rows:
        for r in shown:
            want, got = contract.ratio(row[r.numerator], row[r.denominator]), row[r.name]
            if want is None or got is None:
                assert got is want, f"{card.name} {r.name} of {row}"
            else:  # PostgreSQL rounds at the scale it picks: the exact value, rounded there
                assert got == want.quantize(
                    Decimal(1).scaleb(got.as_tuple().exponent), ROUND_HALF_UP
                ), f"{card.name} {r.name} of {row}"


def test_only_a_card_summing_days_writes_a_formula() -> None:
    for card in CARDS:
        code = "\n".join(line for line in card.sql.splitlines() if not line.lstrip().startswith("--"))
        if "/" in code:
            assert (
                "sum(" in code and "ratio of those sums" in card.description
            ), f"{card.name}: read the ratios of a mart of the right grain, or sum first and say so"


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
