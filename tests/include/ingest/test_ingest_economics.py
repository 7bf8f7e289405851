"""The price model: deterministic across processes, within its documented bounds, and validated on load."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from include.ingest.economics import DEFAULT_PRICE_MODEL_PATH, PriceModel, load_price_model

REPO = Path(__file__).resolve().parents[3]
IDS = [str(i * 7_919_113_711_531 + 10**18) for i in range(5_000)] + ["0", "18446744073709551615"]


@pytest.fixture(scope="module")
def model() -> PriceModel:
    return load_price_model()


def unit(event_id: str, word: int) -> float:
    """docs/economics.md, written out again: word k of SHA-256(id), top 53 bits, as a fraction of 2**53."""
    digest = hashlib.sha256(event_id.encode("ascii")).digest()
    return (int.from_bytes(digest[8 * word : 8 * word + 8], "big") >> 11) / 2**53


def test_packaged_model_is_versioned(model: PriceModel) -> None:
    raw = yaml.safe_load(DEFAULT_PRICE_MODEL_PATH.read_text())
    assert model.version == raw["version"] and model.version.strip()
    assert model.cpm[(1, 0)] == raw["cost"]["cpm"][1][0]


def test_cost_matches_the_documented_formula(model: PriceModel) -> None:
    for event_id in IDS[:500]:
        cost, _, _ = model.derive(event_id, 0, 1, 1, "ecad2386", "28905ebd", "07d7df22")
        exact = model.cpm[(1, 1)] / 1000 * (1 + model.cost_jitter * (2 * unit(event_id, 0) - 1))
        assert abs(cost - exact) <= 5e-7 + 1e-15


def test_economics_stay_within_bounds(model: PriceModel) -> None:
    for i, event_id in enumerate(IDS):
        device_type, banner_pos = (1, 0) if i % 3 else (9, 9)
        cpm = model.cpm.get((device_type, banner_pos), model.default_cpm)
        cost, conversion, revenue = model.derive(event_id, 1, device_type, banner_pos, "x", "y", "0f2161f8")
        assert cpm / 1000 * 0.8 - 1e-6 <= cost <= cpm / 1000 * 1.2 + 1e-6
        assert round(cost, 6) == cost, "money has at most 6 decimals"
        order_value = model.app_categories["0f2161f8"].order_value
        if conversion:
            assert order_value * 0.8 - 1e-6 <= revenue <= order_value * 1.2 + 1e-6
            assert round(revenue, 6) == revenue
        else:
            assert revenue == 0.0
        assert model.derive(event_id, 0, device_type, banner_pos, "x", "y", "0f2161f8")[1:] == (0, 0.0)


def test_conversion_follows_the_category_rate(model: PriceModel) -> None:
    rate = model.app_categories["cef3e649"].rate
    conversions = [model.derive(e, 1, 1, 0, "app", "s", "cef3e649")[1] for e in IDS]
    expected = [int(unit(e, 1) < rate) for e in IDS]
    assert conversions == expected
    assert abs(sum(conversions) / len(IDS) - rate) < 0.01


def test_site_traffic_uses_the_site_category(model: PriceModel) -> None:
    site = model.category("ecad2386", "72722551", "07d7df22")
    assert site == model.site_categories["72722551"]
    assert model.category("92f5800b", "50e219e0", "0f2161f8") == model.app_categories["0f2161f8"]
    assert model.category("92f5800b", "50e219e0", "unknown0") == model.default_category


def test_deterministic_across_processes(model: PriceModel) -> None:
    """Python's hash() is salted per process; the model must not depend on it."""
    code = (
        "import sys, json; from include.ingest.economics import load_price_model; m = load_price_model(); "
        "print(json.dumps([m.derive(i, 1, 1, 0, 'ecad2386', '28905ebd', '07d7df22') for i in sys.argv[1:]]))"
    )
    ids = IDS[:200]
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code, *ids],
            cwd=REPO,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    here = [list(model.derive(i, 1, 1, 0, "ecad2386", "28905ebd", "07d7df22")) for i in ids]
    assert outputs[0] == outputs[1]
    assert yaml.safe_load(outputs[0]) == here


def test_fill_keeps_producer_values(model: PriceModel) -> None:
    own = {"event_id": "42", "click": 1, "cost": 0.5, "conversion": 1, "revenue": 12.0}
    assert model.fill(dict(own)) == {**own, "price_model_version": None}
    partial = model.fill({"event_id": "42", "click": 1, "device_type": 1, "banner_pos": 0, "cost": 0.25})
    assert partial["cost"] == 0.25 and partial["price_model_version"] == model.version
    assert partial["conversion"] in (0, 1)
    converted = model.fill({"event_id": "42", "click": 1, "conversion": 1, "app_category": "0f2161f8"})
    assert converted["revenue"] > 0, "revenue follows the producer's own conversion"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"version": ""}, "version"),
        ({"cost": {"jitter": 1.0}}, "cost.jitter"),
        ({"conversion": {"default_rate": 1.5}}, "default_rate"),
        ({"conversion": {"app_categories": {12345678: {"rate": 0.1, "order_value": 1}}}}, "quoted string"),
        ({"cost": {"cpm": {1: {0: -1}}}}, "cpm"),
    ],
)
def test_invalid_models_are_rejected(tmp_path: Path, patch: dict, message: str) -> None:
    doc = yaml.safe_load(DEFAULT_PRICE_MODEL_PATH.read_text())
    for key, value in patch.items():
        doc[key] = {**doc[key], **value} if isinstance(value, dict) else value
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ValueError, match=message):
        load_price_model(path)


def test_documentation_names_the_current_version_and_tables(model: PriceModel) -> None:
    doc = (REPO / "docs" / "economics.md").read_text()
    assert f"## Version {model.version}" in doc
    for category, econ in [*model.site_categories.items(), *model.app_categories.items()]:
        assert f"| {category} " in doc and f"{econ.order_value:.2f}" in doc
    for cpm in model.cpm.values():
        assert f"{cpm:.2f}" in doc
