"""The Redis cache writer against the real local Redis (a private key prefix, deleted afterwards)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal

import pytest
import redis

from include.flink_jobs.ad_window_metrics import redis_cache

pytestmark = pytest.mark.integration


def _row(size: int, minute: int, dimension: str = "all", value: str = "", impressions: int = 10) -> dict:
    return {
        "window_size_s": size,
        "window_start": datetime(2014, 10, 21, 0, minute),
        "window_end": datetime(2014, 10, 21, 0, minute + size // 60),
        "dimension": dimension,
        "dimension_value": value,
        "impressions": impressions,
        "clicks": 2,
        "conversions": 0,
        "cost": Decimal("0.500000"),
        "revenue": Decimal("0"),
        "ctr": Decimal("0.2"),
        "cpc": Decimal("0.25"),
        "cpa": None,
        "roas": Decimal("0.000000"),
    }


@pytest.fixture
def client(cfg):
    client = redis.Redis(
        host=cfg["REDIS_HOST"],
        port=int(cfg["REDIS_PORT"]),
        password=cfg["REDIS_PASSWORD"] or None,
        decode_responses=True,
    )
    prefix = f"wm_unit_{uuid.uuid4().hex[:8]}"
    yield client, prefix
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def test_rows_land_under_the_documented_keys_idempotently(client):
    client, prefix = client
    rows = [_row(60, 0), _row(60, 0, "campaign", "1722", 4), _row(60, 1), _row(300, 0)]
    assert redis_cache.write(client, rows, prefix, ttl_ms=60_000) == 4
    snapshot = {k: client.hgetall(k) for k in client.scan_iter(match=f"{prefix}:win:*")}
    assert redis_cache.write(client, rows, prefix, ttl_ms=60_000) == 4  # a replay changes nothing
    assert {k: client.hgetall(k) for k in client.scan_iter(match=f"{prefix}:win:*")} == snapshot

    start = 1413849600000
    doc = json.loads(client.hget(f"{prefix}:win:60:{start}:all", ""))
    assert doc == {
        "impressions": 10, "clicks": 2, "conversions": 0, "cost": "0.500000", "revenue": "0.000000",
        "ctr": "0.200000", "cpc": "0.250000", "cpa": None, "roas": "0.000000", "window_end": start + 60_000,
    }  # fmt: skip
    assert json.loads(client.hget(f"{prefix}:win:60:{start}:campaign", "1722"))["impressions"] == 4
    assert client.zrange(f"{prefix}:windows:60", 0, -1) == [str(start), str(start + 60_000)]
    assert client.zrange(f"{prefix}:windows:300", 0, -1) == [str(start)]
    assert 0 < client.pttl(f"{prefix}:win:60:{start}:all") <= 60_000
    assert 0 < client.pttl(f"{prefix}:windows:60") <= 60_000


def test_the_index_forgets_windows_older_than_the_ttl(client):
    client, prefix = client
    redis_cache.write(client, [_row(60, 0)], prefix, ttl_ms=3_600_000)
    redis_cache.write(client, [_row(60, 30)], prefix, ttl_ms=10 * 60_000)  # 30 min later, 10 min TTL
    assert client.zrange(f"{prefix}:windows:60", 0, -1) == [str(1413849600000 + 30 * 60_000)]
