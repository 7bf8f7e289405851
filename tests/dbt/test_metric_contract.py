"""The dbt layer keeps the metric contract (include/metrics_contract.py): the ``ad_metrics`` macro
defines exactly the contract's ratios (names, numerators, denominators, NULL on a zero denominator,
unrounded NUMERIC), and no model computes a ratio without it.

The macros are Jinja: they are rendered here with plain Jinja2 (dbt's ``adapter.dispatch`` resolved
to the ``default__`` implementations), so the checks need neither dbt nor a dbt run.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jinja2
import pytest

from include import config
from include import metrics_contract as contract
from include.batch.dbt_manifest import MANIFEST_PATH, PROJECT_DIR

MACRO_DIR = PROJECT_DIR / "macros"
MODEL_DIR = PROJECT_DIR / "models"
AD_METRICS = "macro.ad_events.ad_metrics"
# A distinct stand-in per measure, so a rendered ratio says which measures it divides.
PLACEHOLDERS = {m: f"m_{m}" for m in contract.MEASURES}
_COLUMN = re.compile(r"^\s*(?P<expr>.+?) as (?P<name>\w+),?$")


class CompilerError(Exception):
    pass


def macros() -> Any:
    """The project's macros (macros/*.sql, generic tests aside) as a Jinja2 module."""
    module: dict[str, Any] = {}

    class Adapter:
        @staticmethod
        def dispatch(name: str, package: str) -> Any:
            return getattr(module["macros"], f"default__{name}")

    class Exceptions:
        @staticmethod
        def raise_compiler_error(message: str) -> None:
            raise CompilerError(message)

    source = "\n".join(p.read_text() for p in sorted(MACRO_DIR.glob("*.sql")))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    module["macros"] = env.from_string(source).make_module(
        vars={"adapter": Adapter, "exceptions": Exceptions}
    )
    return module["macros"]


def columns(rendered: str) -> list[tuple[str, str]]:
    """``(name, expression)`` of every column the rendered macro emits."""
    found = [_COLUMN.match(line) for line in str(rendered).splitlines() if line.strip()]
    assert all(found), f"unexpected output of ad_metrics:\n{rendered}"
    return [(m["name"], m["expr"]) for m in found if m]


def test_ad_metrics_defines_exactly_the_contract_ratios():
    m = macros()
    emitted = columns(m.ad_metrics(**PLACEHOLDERS))
    assert [name for name, _ in emitted] == list(contract.RATIO_NAMES)
    for ratio, (_, expr) in zip(contract.RATIOS, emitted, strict=True):
        want = str(m.safe_divide(PLACEHOLDERS[ratio.numerator], PLACEHOLDERS[ratio.denominator])).strip()
        assert expr == want, f"{ratio.name}: {expr} is not {ratio.numerator} / {ratio.denominator}"


def test_safe_divide_is_null_on_a_zero_denominator_and_unrounded():
    assert str(macros().safe_divide("n", "d")).strip() == "(n)::numeric / nullif((d)::numeric, 0)"


def test_a_mart_can_keep_some_ratios_but_not_invent_one():
    m = macros()
    assert [name for name, _ in columns(m.ad_metrics(only=["ctr"]))] == ["ctr"]
    assert [name for name, _ in columns(m.ad_metrics(only=["roas", "cpc"]))] == ["cpc", "roas"]
    with pytest.raises(CompilerError, match="unknown ratio margin"):
        m.ad_metrics(only=["margin"])


def test_ad_measures_sums_exactly_the_contract_measures():
    m = macros()
    summed = columns(m.ad_measures())
    assert [name for name, _ in summed] == list(contract.MEASURES)
    assert all(expr == f"sum({name})" for name, expr in summed)


def test_ad_measures_of_single_events_count_impressions():
    """On stg_ad_events one row is one impression (it has no impressions column to sum)."""
    summed = dict(columns(macros().ad_measures(events=True)))
    assert summed == {m: "count(*)" if m == "impressions" else f"sum({m})" for m in contract.MEASURES}


def test_a_model_can_keep_some_measures_but_not_invent_one():
    m = macros()
    assert [name for name, _ in columns(m.ad_measures(only=["clicks", "impressions"]))] == [
        "impressions",
        "clicks",
    ]
    with pytest.raises(CompilerError, match="unknown measure margin"):
        m.ad_measures(only=["margin"])


def test_no_model_sums_a_measure_itself():
    """The measure sums come from ad_measures; a model may still sum a measure under a filter."""
    plain_sum = re.compile(
        rf"\b(?:sum\(\s*({'|'.join(contract.MEASURES)})\s*\)|count\(\*\))\s+as\s+(\w+)", re.I
    )
    offences = [
        f"{path.relative_to(PROJECT_DIR)}: {match[0]}"
        for path in sorted(MODEL_DIR.rglob("*.sql"))
        for match in plain_sum.finditer(_code(path))
        if match[2] in contract.MEASURES
    ]
    assert not offences, "use ad_measures():\n" + "\n".join(offences)


def _code(path: Path) -> str:
    """A model's SQL without Jinja and SQL comments."""
    text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def test_no_model_computes_a_ratio_without_the_macro():
    ratio_alias = re.compile(rf"\bas\s+({'|'.join(contract.RATIO_NAMES)})\b", re.I)
    offences = []
    for path in sorted(MODEL_DIR.rglob("*.sql")):
        code, rel = _code(path), path.relative_to(PROJECT_DIR)
        if "/" in code or re.search(r"\b(nullif|safe_divide)\b", code, re.I):
            offences.append(f"{rel}: divides outside ad_metrics")
        if ratio_alias.search(code):
            offences.append(f"{rel}: names a ratio column itself ({ratio_alias.search(code)[0]})")
    assert not offences, "\n".join(offences)


def test_every_model_with_a_ratio_column_uses_the_macro():
    manifest = json.loads(MANIFEST_PATH.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    with_ratios = [n for n in models if set(n["columns"]) & set(contract.RATIO_NAMES)]
    assert {n["name"] for n in with_ratios} >= {"fct_daily_metrics", "mart_daily_ctr", "daily_clicks"}
    missing = [n["name"] for n in with_ratios if AD_METRICS not in n["depends_on"]["macros"]]
    assert not missing, f"models with ratio columns that do not call ad_metrics: {missing}"


# Prime-ish measures give each (numerator, denominator) pair its own quotient; each zero row
# empties one denominator.
_ROWS = [
    {"impressions": 7919, "clicks": 131, "conversions": 17, "cost": "3.700001", "revenue": "11.3"},
    {"impressions": 0, "clicks": 0, "conversions": 0, "cost": "0", "revenue": "0"},
    {"impressions": 3, "clicks": 1, "conversions": 0, "cost": "0.5", "revenue": "0"},
    {"impressions": 9, "clicks": 0, "conversions": 0, "cost": "0", "revenue": "2.25"},
]


@pytest.mark.integration
def test_the_rendered_macro_computes_the_contract_in_postgresql():
    import psycopg

    values = ", ".join(
        f"({n}, {r['impressions']}, {r['clicks']}, {r['conversions']}, {r['cost']}::numeric(18,6), "
        f"{r['revenue']}::numeric(18,6))"
        for n, r in enumerate(_ROWS)
    )
    sql = (
        f"SELECT {macros().ad_metrics()} FROM (VALUES {values}) "
        f"AS t(n, {', '.join(contract.MEASURES)}) ORDER BY n"
    )
    with psycopg.connect(config.pg_dsn("PG_DASHBOARD")) as conn:
        got = conn.execute(sql).fetchall()
    for row, values_got in zip(_ROWS, got, strict=True):
        want = contract.ratios(row)
        for name, value in zip(contract.RATIO_NAMES, values_got, strict=True):
            if want[name] is None:
                assert value is None, f"{name} of {row}: {value}, want NULL"
                continue
            # PostgreSQL rounds its quotient at the scale it picks: the contract's exact value,
            # rounded there, must be it.
            quantum = Decimal(1).scaleb(value.as_tuple().exponent)
            assert value == want[name].quantize(quantum, rounding=ROUND_HALF_UP), (name, row, value)
    # Unrounded: 131 / 7919 keeps more than the stream table's 6 decimals.
    assert -got[0][0].as_tuple().exponent > contract.MONEY_SCALE
