"""The price model in DuckDB SQL prices every row exactly as economics.py does, bit for bit, whatever
the model and whether the columns are integers or their text (no service needed)."""

from __future__ import annotations

import duckdb
import pytest

from include.ingest.economics import CategoryEconomics, PriceModel, load_price_model
from include.ingest.economics_sql import REVENUE_MICROS, priced_ctes, register_price_model

IDS = [str(i * 7_919_113_711_531 + 10**18) for i in range(3_000)] + ["0", "18446744073709551615"]
BARE = PriceModel(  # no tables at all: every row is priced by the defaults
    version="test-bare",
    cost_jitter=0.5,
    default_cpm=12.5,
    cpm={},
    site_placeholder_app_id="ecad2386",
    default_category=CategoryEconomics(0.4, 25.0),
    revenue_jitter=0.3,
)


def _rows(model: PriceModel) -> list[tuple[str, int, int, str, str, str]]:
    """Every id once per kind of traffic: a priced placement or not, site or app, known category or not."""
    site = next(iter(model.site_categories), "nosuchsite")
    app = next(iter(model.app_categories), "nosuchapp")
    placements = [*model.cpm, (9, 9)]
    kinds = [
        (model.site_placeholder_app_id, site, "07d7df22"),
        (model.site_placeholder_app_id, "nosuchsite", app),
        ("a1b2c3d4", site, app),
        ("a1b2c3d4", site, "nosuchapp"),
    ]
    return [
        (event_id, *placements[i % len(placements)], *kinds[i % len(kinds)]) for i, event_id in enumerate(IDS)
    ]


@pytest.mark.parametrize(
    "model, column_type",
    [
        pytest.param(load_price_model(), "INTEGER", id="packaged-model-integer-columns"),
        pytest.param(load_price_model(), "VARCHAR", id="packaged-model-text-columns"),
        pytest.param(BARE, "INTEGER", id="defaults-only"),
    ],
)
def test_sql_prices_every_clicked_row_as_economics_py(model: PriceModel, column_type: str) -> None:
    rows = _rows(model)
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE events (id VARCHAR, device_type {column_type}, banner_pos {column_type}, "
        "app_id VARCHAR, site_category VARCHAR, app_category VARCHAR)"
    )
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
    register_price_model(con, model)
    register_price_model(con, model)  # a second registration replaces the first

    got = con.execute(
        f"""WITH hashed AS (SELECT *, sha256(id) AS digest FROM events),
        {priced_ctes("hashed")}
        SELECT id, cost_micros, u_conv < rate, {REVENUE_MICROS} FROM priced ORDER BY id"""
    ).fetchall()

    expected = {}
    for event_id, device_type, banner_pos, app_id, site_category, app_category in rows:
        cost, conversion, revenue = model.derive(
            event_id, 1, device_type, banner_pos, app_id, site_category, app_category
        )
        expected[event_id] = (cost, conversion, revenue)
    assert len(got) == len(rows)
    conversions = 0
    for event_id, cost_micros, converts, revenue_micros in got:
        cost, conversion, revenue = expected[event_id]
        assert (cost_micros / 1_000_000.0, int(converts)) == (cost, conversion), event_id
        if converts:
            conversions += 1
            assert revenue_micros / 1_000_000.0 == revenue, event_id
    assert 0 < conversions < len(rows)  # both branches of the draw were compared
