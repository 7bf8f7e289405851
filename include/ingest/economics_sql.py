"""The price model of :mod:`include.ingest.economics` in DuckDB SQL, for paths that price millions of
rows in one query: the batch extract's columnar fast path and the full run's oracle.

The rules are economics.py's (docs/economics.md): the SHA-256 words of the id's text drive the
draws, and every float expression keeps its operation order ((a * b) * c), so IEEE doubles give its
results bit for bit. Money leaves here as whole micro-units (DOUBLE); each caller casts it to its own
type. A change to the rules in economics.py changes this module in the same commit.
"""

from __future__ import annotations

from typing import Any

from include.ingest.economics import PriceModel

U53 = "1.1102230246251565e-16"  # 2**-53, whose shortest repr parses back to it exactly

REVENUE_MICROS = "floor(order_value * 1000000.0 * (1.0 + revenue_jitter * (2.0 * u_rev - 1.0)) + 0.5)"
"""What a converting row of :func:`priced_ctes`' ``priced`` earns, in whole micros (DOUBLE)."""


def register_price_model(con: Any, model: PriceModel) -> None:
    """``model`` as the temp tables ``cpm``, ``cat`` and ``params`` of a DuckDB connection: what
    :func:`priced_ctes` joins. Registering again replaces them."""
    con.execute("CREATE OR REPLACE TEMP TABLE cpm (device_type INTEGER, banner_pos INTEGER, cpm DOUBLE)")
    if model.cpm:
        con.executemany("INSERT INTO cpm VALUES (?, ?, ?)", [(d, b, v) for (d, b), v in model.cpm.items()])
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cat (kind VARCHAR, category VARCHAR, rate DOUBLE, order_value DOUBLE)"
    )
    rows = [("site", k, c.rate, c.order_value) for k, c in model.site_categories.items()]
    rows += [("app", k, c.rate, c.order_value) for k, c in model.app_categories.items()]
    if rows:
        con.executemany("INSERT INTO cat VALUES (?, ?, ?, ?)", rows)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE params AS SELECT ?::DOUBLE AS cost_jitter, ?::DOUBLE AS default_cpm, "
        "?::VARCHAR AS placeholder, ?::DOUBLE AS default_rate, ?::DOUBLE AS default_order_value, "
        "?::DOUBLE AS revenue_jitter",
        [
            model.cost_jitter,
            model.default_cpm,
            model.site_placeholder_app_id,
            model.default_category.rate,
            model.default_category.order_value,
            model.revenue_jitter,
        ],
    )


def priced_ctes(rows: str) -> str:
    """Two CTEs, ``draws`` then ``priced``, for a ``WITH`` clause: the rows of ``rows`` (a table or
    an earlier CTE) with the model applied. Needs :func:`register_price_model` first.

    ``rows`` must have ``digest`` (``sha256`` of the id's text), ``device_type`` and ``banner_pos``
    (integers, or their text), ``app_id``, ``site_category`` and ``app_category``. ``priced`` has
    all its columns plus:

    - ``u_cost``, ``u_conv``, ``u_rev``: the uniform draws of the digest's words 0, 1 and 2;
    - ``cost_micros``: the impression's cost in whole micros (DOUBLE);
    - ``rate``: the conversion rate of the row's category: a click converts when ``u_conv < rate``;
    - ``order_value`` and ``revenue_jitter``, which :data:`REVENUE_MICROS` reads.
    """
    return f"""draws AS (
  SELECT *,
         (('0x' || substr(digest, 1, 16))::UBIGINT >> 11)::DOUBLE * {U53} AS u_cost,
         (('0x' || substr(digest, 17, 16))::UBIGINT >> 11)::DOUBLE * {U53} AS u_conv,
         (('0x' || substr(digest, 33, 16))::UBIGINT >> 11)::DOUBLE * {U53} AS u_rev
  FROM {rows}
),
priced AS (
  SELECT d.*,
         floor(coalesce(cpm.cpm, p.default_cpm) * 1000.0 * (1.0 + p.cost_jitter * (2.0 * d.u_cost - 1.0))
               + 0.5) AS cost_micros,
         coalesce(cat.rate, p.default_rate) AS rate,
         coalesce(cat.order_value, p.default_order_value) AS order_value,
         p.revenue_jitter
  FROM draws d
  CROSS JOIN params p
  LEFT JOIN cpm ON cpm.device_type = d.device_type::INTEGER AND cpm.banner_pos = d.banner_pos::INTEGER
  LEFT JOIN cat ON cat.kind = CASE WHEN d.app_id = p.placeholder THEN 'site' ELSE 'app' END
               AND cat.category = CASE WHEN d.app_id = p.placeholder THEN d.site_category
                                       ELSE d.app_category END
)"""
