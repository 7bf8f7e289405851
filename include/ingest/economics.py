"""The versioned price model: deterministic cost, conversion and revenue for rows without any.

Reference: docs/economics.md.

The numbers live in ``price_model.yaml``; this module only applies them. All randomness comes from
SHA-256 of the event id's decimal text, so any process, language or database (PostgreSQL has
``sha256()``) reproduces a row's economics: the digest's words 0, 1 and 2 (big-endian, 8 bytes each)
drive the cost jitter, the conversion draw and the revenue jitter. A word becomes a uniform ``u`` in
[0, 1) as ``(word >> 11) * 2**-53``, exact in a double. The id hash ignores the model version on
purpose: raising a conversion rate only adds conversions, it never reshuffles which rows convert.

Money is rounded half-up to 6 decimals (micro-units, the ad industry's "micros") as
``floor(x * 1e6 + 0.5) / 1e6`` in IEEE doubles, which any language reproduces bit for bit (Python's
``round`` is both slower and decimal-exact, which Java or SQL doubles are not). A row costs ~0.02-0.1,
so cents would erase the jitter, and a value with 6 decimals lands exactly in
the NUMERIC(18,6) columns downstream, so sums in PostgreSQL never drift.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from hashlib import sha256
from math import floor
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PRICE_MODEL_PATH = Path(__file__).with_name("price_model.yaml")
MONEY_DECIMALS = 6
_MICROS = 1_000_000.0
_UNIT = 2.0**-53
_WORDS = struct.Struct(">QQQ8x").unpack


@dataclass(frozen=True, slots=True)
class CategoryEconomics:
    rate: float
    order_value: float


@dataclass(frozen=True, slots=True)
class PriceModel:
    """A loaded ``price_model.yaml``. Build it with :func:`load_price_model`, which validates it."""

    version: str
    cost_jitter: float
    default_cpm: float
    cpm: dict[tuple[int, int], float]
    site_placeholder_app_id: str
    default_category: CategoryEconomics
    revenue_jitter: float
    site_categories: dict[str, CategoryEconomics] = field(default_factory=dict)
    app_categories: dict[str, CategoryEconomics] = field(default_factory=dict)

    def category(self, app_id: str, site_category: str, app_category: str) -> CategoryEconomics:
        """Site traffic (the placeholder app) is priced by its site category, app traffic by its app's."""
        if app_id == self.site_placeholder_app_id:
            return self.site_categories.get(site_category, self.default_category)
        return self.app_categories.get(app_category, self.default_category)

    def derive(
        self,
        event_id: str,
        click: int,
        device_type: int,
        banner_pos: int,
        app_id: str,
        site_category: str,
        app_category: str,
        conversion: int | None = None,
    ) -> tuple[float, int, float]:
        """``(cost, conversion, revenue)`` of one impression; a pure function of its arguments.

        ``conversion`` overrides the draw, for producers that report conversions but not revenue.
        """
        w_cost, w_conv, w_rev = _WORDS(sha256(event_id.encode()).digest())
        u_cost = (w_cost >> 11) * _UNIT
        cpm = self.cpm.get((device_type, banner_pos), self.default_cpm)
        cost = floor(cpm * 1000.0 * (1.0 + self.cost_jitter * (2.0 * u_cost - 1.0)) + 0.5) / _MICROS
        if conversion is None:
            if click != 1:
                return cost, 0, 0.0
            cat = self.category(app_id, site_category, app_category)
            conversion = 1 if (w_conv >> 11) * _UNIT < cat.rate else 0
        if conversion != 1:
            return cost, 0, 0.0
        cat = self.category(app_id, site_category, app_category)
        u_rev = (w_rev >> 11) * _UNIT
        revenue = floor(cat.order_value * _MICROS * (1.0 + self.revenue_jitter * (2.0 * u_rev - 1.0)) + 0.5)
        return cost, 1, revenue / _MICROS

    def fill(self, event: dict[str, Any]) -> dict[str, Any]:
        """Complete a live event's economics in place; a producer's own values always win.

        With all three of cost/conversion/revenue present the model is skipped and
        ``price_model_version`` is None. Otherwise only the missing ones are derived (revenue from the
        event's own conversion when it has one) and the version is stamped, since some numbers are
        now the model's.
        """
        missing = [k for k in ("cost", "conversion", "revenue") if event.get(k) is None]
        if not missing:
            event["price_model_version"] = None
            return event
        cost, conversion, revenue = self.derive(
            str(event.get("event_id", "")),
            event.get("click", 0),
            event.get("device_type", -1),
            event.get("banner_pos", -1),
            event.get("app_id", ""),
            event.get("site_category", ""),
            event.get("app_category", ""),
            event.get("conversion"),
        )
        if event.get("cost") is None:
            event["cost"] = cost
        if event.get("conversion") is None:
            event["conversion"] = conversion
        if event.get("revenue") is None:
            event["revenue"] = revenue
        event["price_model_version"] = self.version
        return event


def load_price_model(path: str | os.PathLike[str] | None = None) -> PriceModel:
    """Load and validate a price model file (default: the packaged ``price_model.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_PRICE_MODEL_PATH
    doc = yaml.safe_load(path.read_text())
    try:
        return _build(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"invalid price model {path}: {exc}") from exc


def _build(doc: dict[str, Any]) -> PriceModel:
    version = doc["version"]
    if not isinstance(version, str) or not version.strip():
        raise ValueError("version must be a non-empty string")
    cost, conv = doc["cost"], doc["conversion"]
    cpm = {
        (int(device_type), int(banner_pos)): _non_negative(value, f"cpm[{device_type}][{banner_pos}]")
        for device_type, by_pos in (cost.get("cpm") or {}).items()
        for banner_pos, value in by_pos.items()
    }
    return PriceModel(
        version=version,
        cost_jitter=_fraction(cost["jitter"], "cost.jitter"),
        default_cpm=_non_negative(cost["default_cpm"], "cost.default_cpm"),
        cpm=cpm,
        site_placeholder_app_id=str(conv["site_placeholder_app_id"]),
        default_category=CategoryEconomics(
            _rate(conv["default_rate"], "conversion.default_rate"),
            _non_negative(conv["default_order_value"], "conversion.default_order_value"),
        ),
        revenue_jitter=_fraction(conv["revenue_jitter"], "conversion.revenue_jitter"),
        site_categories=_categories(conv.get("site_categories"), "site_categories"),
        app_categories=_categories(conv.get("app_categories"), "app_categories"),
    )


def _categories(table: dict[Any, Any] | None, name: str) -> dict[str, CategoryEconomics]:
    out: dict[str, CategoryEconomics] = {}
    for key, entry in (table or {}).items():
        if not isinstance(key, str):
            raise ValueError(f"{name} key {key!r} must be a quoted string (YAML turned it into a number)")
        out[key] = CategoryEconomics(
            _rate(entry["rate"], f"{name}.{key}.rate"),
            _non_negative(entry["order_value"], f"{name}.{key}.order_value"),
        )
    return out


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _rate(value: Any, name: str) -> float:
    number = _non_negative(value, name)
    if number > 1:
        raise ValueError(f"{name} must be a rate in [0, 1], got {value!r}")
    return number


def _fraction(value: Any, name: str) -> float:
    number = _non_negative(value, name)
    if number >= 1:
        raise ValueError(f"{name} must be in [0, 1) so prices stay positive, got {value!r}")
    return number
