"""Synthetic Avazu-shaped CSV files at any size, deterministic from a seed (the full file is not shipped).

Marginals follow the real train set (docs/design.md "Data", public EDA of it): ~17% clicks, hourly
volume on a daily curve, C1/device_type/banner_pos/device_conn_type with Avazu's skew, site traffic
(placeholder app ``ecad2386``) vs app traffic (placeholder site ``85f751fd``), the real category
hashes (so the price model's tables apply), Zipf-like publishers, device models and ~400 campaigns
(C17) each with a few creatives (C14, with a banner size C15xC16), ``device_id`` mostly the
``a99f214a`` placeholder and C20 -1 about half the time. Clicks depend on banner_pos, device_type,
connection and publisher, renormalised so the overall rate stays 0.1698. Ids are unique: a bijective
64-bit mix of a seed-derived base plus the row number. Rows are sorted by hour.

Speed comes from numpy: every column is drawn vectorised from pools of ready-made ``b"value,"``
segments, the segments of a few thousand rows are joined in one ``bytes.join``, and gzip output is
compressed in a second thread as independent gzip members (a multi-member file is valid gzip).

``bad_rows=K`` replaces K rows of each parsing kind (at seeded positions, hour kept, so the row count
stays exact and the file stays sorted): ``columns`` (C21 dropped: 23 columns), ``utf8`` (device_model
starts with the bytes ``ff fe``: invalid UTF-8) and ``number`` (C15 becomes ``3x0``).

Output is identical for a seed, row count, start hour and hour count on a given numpy major version
(its Generator streams are stable within one).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np

from include.ingest.avazu_reader import AVAZU_HEADER
from include.ingest.event_time import hour_start_ms

CLICK_RATE = 0.1698
BAD_KINDS = ("columns", "utf8", "number")
SITE_PLACEHOLDER = b"85f751fd,c4e18dd6,50e219e0,"
APP_PLACEHOLDER = b"ecad2386,7801e8d9,07d7df22,"
DEVICE_ID_PLACEHOLDER = b"a99f214a,"

_CHUNK = 65_536
_JOIN = 4_096
_SITE_SHARE = 0.64

# Relative volume by UTC hour of day, and by weekday (Monday first), shaped like Avazu's train set.
HOUR_OF_DAY = (0.62, 0.73, 0.82, 0.80, 0.91, 0.88, 0.80, 0.82, 0.85, 0.92, 0.85, 0.88,
               0.97, 1.00, 0.96, 0.88, 0.87, 0.81, 0.64, 0.52, 0.43, 0.38, 0.43, 0.49)  # fmt: skip
WEEKDAY = (1.00, 1.06, 1.08, 1.02, 0.97, 0.86, 0.88)

# (value, share, click-rate multiplier)
C1_DEVICE_TYPE = (
    ((1005, 1), 0.9188, 1.0),
    ((1002, 0), 0.0549, 1.25),
    ((1010, 4), 0.0192, 0.56),
    ((1010, 5), 0.0032, 0.56),
    ((1012, 1), 0.0028, 1.0),
    ((1007, 1), 0.0009, 0.25),
    ((1001, 0), 0.0002, 0.2),
)
BANNER_POS = ((0, 0.7201, 0.97), (1, 0.2783, 1.09), (7, 0.0011, 1.89), (2, 0.0003, 0.70),
              (4, 0.0002, 1.09), (5, 0.00014, 0.72), (3, 0.00006, 1.08))  # fmt: skip
CONN_TYPE = ((0, 0.8628, 1.07), (2, 0.0825, 0.78), (3, 0.0540, 0.48), (5, 0.0007, 0.19))
SITE_CATEGORIES = (("f028772b", 0.48), ("28905ebd", 0.28), ("3e814130", 0.12), ("50e219e0", 0.06),
                   ("f66779e6", 0.010), ("75fa27f6", 0.007), ("335d28a8", 0.006), ("76b2941d", 0.005),
                   ("c0dd3be3", 0.003), ("72722551", 0.002), ("dedf689d", 0.002), ("70fb0e29", 0.002),
                   ("0569f928", 0.002), ("8fd0aea4", 0.001), ("a818d37a", 0.001))  # fmt: skip
APP_CATEGORIES = (("0f2161f8", 0.64), ("cef3e649", 0.12), ("8ded1f7a", 0.10), ("f95efa07", 0.078),
                  ("07d7df22", 0.02), ("d1327cf5", 0.008), ("09481d60", 0.004), ("dc97ec06", 0.004),
                  ("75d80bbe", 0.003), ("fc6fa53d", 0.0016), ("4ce2e9fc", 0.0014), ("879c24eb", 0.0009),
                  ("a3c42688", 0.0008), ("4681bb9d", 0.0004), ("0f9a328c", 0.0003))  # fmt: skip
BANNER_SIZES = (((320, 50), 0.932), ((300, 250), 0.057), ((216, 36), 0.007), ((728, 90), 0.002),
                ((120, 20), 0.001), ((480, 320), 0.0005), ((1024, 768), 0.0005))  # fmt: skip
C18_VALUES = ((0, 0.42), (3, 0.34), (2, 0.17), (1, 0.07))
C19_VALUES = (35, 39, 167, 161, 47, 33, 1327, 163, 687, 34, 1063, 41, 431, 297, 551, 291, 813, 1071, 419, 171)
C21_VALUES = (23, 221, 79, 48, 71, 61, 157, 32, 33, 52, 42, 51, 229, 46, 212, 100, 117, 82, 68, 90)
C20_UNKNOWN_SHARE = 0.468


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection on uint64, so distinct row numbers give distinct ids."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _zipf(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    """Zipf weights over n items, ranks shuffled so popularity is not tied to creation order."""
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** a
    rng.shuffle(w)
    return w / w.sum()


def _hex8(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 8-hex-digit hashes as an ``S8`` array (via one ``bytes.hex`` call, no Python loop)."""
    values = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(">u4")
    return np.frombuffer(values.tobytes().hex().encode("ascii"), dtype="S8")


class _Sampler:
    """Inverse-CDF sampling through a guide table: exact like ``searchsorted`` but O(1) per draw.

    ``Generator.choice(p=...)`` binary-searches the CDF for every draw (~80 ns on 8,000 items); the
    guide table jumps next to the answer and a vectorised step or two finishes the search.
    """

    def __init__(self, p: np.ndarray, guide_size: int = 1 << 16) -> None:
        cdf = np.cumsum(p, dtype=np.float64)
        self.cdf = cdf / cdf[-1]
        self.cdf[-1] = 1.0
        self.size = guide_size
        self.guide = np.searchsorted(self.cdf, np.arange(guide_size) / guide_size, side="right")

    def __call__(self, rng: np.random.Generator, n: int) -> np.ndarray:
        u = rng.random(n)
        idx = self.guide[(u * self.size).astype(np.intp)]
        while True:
            behind = self.cdf[idx] <= u
            if not behind.any():
                return idx
            idx += behind


def _segments(values: np.ndarray | list[bytes], suffix: bytes = b",") -> np.ndarray:
    """An object array of ``value + suffix`` bytes: the pool rows are assembled from."""
    return np.array([bytes(v) + suffix for v in values], dtype=object)


def _table(spec: tuple[tuple[object, float], ...]) -> tuple[list[object], np.ndarray]:
    values = [v for v, _ in spec]
    p = np.array([s for _, s in spec], dtype=np.float64)
    return values, p / p.sum()


@dataclass
class _Universe:
    """Everything shared by all rows of one seed: publishers, devices, campaigns and their segments."""

    pub_seg: np.ndarray
    pub_p: np.ndarray
    pub_ctr: np.ndarray
    model_seg: np.ndarray
    model_p: np.ndarray
    ip_seg: np.ndarray
    ip_p: np.ndarray
    creative_seg: np.ndarray
    creative_p: np.ndarray
    creative_c21: np.ndarray
    c20_seg: np.ndarray
    c20_p: np.ndarray
    samplers: dict[str, _Sampler] = field(init=False)
    c1_ctr: np.ndarray = field(init=False)
    bp_ctr: np.ndarray = field(init=False)
    conn_ctr: np.ndarray = field(init=False)
    c1_seg: np.ndarray = field(init=False)
    dt_conn_seg: np.ndarray = field(init=False)
    click_seg: dict[str, np.ndarray] = field(init=False)
    ctr_norm: float = field(init=False)

    def __post_init__(self) -> None:
        c1_p = _norm([s for _, s, _ in C1_DEVICE_TYPE])
        bp_p = _norm([s for _, s, _ in BANNER_POS])
        conn_p = _norm([s for _, s, _ in CONN_TYPE])
        self.c1_ctr = np.array([m for _, _, m in C1_DEVICE_TYPE])
        self.bp_ctr = np.array([m for _, _, m in BANNER_POS])
        self.conn_ctr = np.array([m for _, _, m in CONN_TYPE])
        self.samplers = {
            "c1": _Sampler(c1_p),
            "bp": _Sampler(bp_p),
            "conn": _Sampler(conn_p),
            "pub": _Sampler(self.pub_p),
            "creative": _Sampler(self.creative_p),
            "model": _Sampler(self.model_p),
            "ip": _Sampler(self.ip_p),
            "c20": _Sampler(self.c20_p),
        }
        # "C1,banner_pos," indexed by c1 * len(BANNER_POS) + bp; "device_type,conn," by c1 * len(CONN) + conn.
        c1_dt = [v for v, _, _ in C1_DEVICE_TYPE]
        self.c1_seg = _segments([f"{c},{bp}".encode() for (c, _) in c1_dt for bp, _, _ in BANNER_POS])
        self.dt_conn_seg = _segments([f"{dt},{ct}".encode() for (_, dt) in c1_dt for ct, _, _ in CONN_TYPE])
        self.click_seg = {}
        self.ctr_norm = CLICK_RATE / float(
            (c1_p @ self.c1_ctr)
            * (bp_p @ self.bp_ctr)
            * (conn_p @ self.conn_ctr)
            * (self.pub_p @ self.pub_ctr)
        )

    def click_hour(self, hour: str) -> np.ndarray:
        """``,0,HOUR,`` and ``,1,HOUR,``: the comma ending the id is carried here to save a string op."""
        seg = self.click_seg.get(hour)
        if seg is None:
            seg = self.click_seg[hour] = _segments([f",0,{hour}".encode(), f",1,{hour}".encode()])
        return seg


def _norm(shares: list[float]) -> np.ndarray:
    p = np.array(shares, dtype=np.float64)
    return p / p.sum()


def _build_universe(seed: int) -> _Universe:
    rng = np.random.default_rng([seed, 0x5EED])
    n_sites, n_apps = 3_000, 5_000
    site_cats, site_cat_p = _table(SITE_CATEGORIES)
    app_cats, app_cat_p = _table(APP_CATEGORIES)
    sites = [
        b"%s,%s,%s," % (sid, dom, site_cats[c].encode()) + APP_PLACEHOLDER  # type: ignore[union-attr]
        for sid, dom, c in zip(
            _hex8(rng, n_sites),
            _hex8(rng, n_sites),
            rng.choice(len(site_cats), n_sites, p=site_cat_p),
            strict=True,
        )
    ]
    app_domains = _hex8(rng, 400)
    app_domain_p = _zipf(len(app_domains), 1.3, rng)
    apps = [
        SITE_PLACEHOLDER + b"%s,%s,%s," % (aid, app_domains[d], app_cats[c].encode())  # type: ignore[union-attr]
        for aid, d, c in zip(
            _hex8(rng, n_apps),
            rng.choice(len(app_domains), n_apps, p=app_domain_p),
            rng.choice(len(app_cats), n_apps, p=app_cat_p),
            strict=True,
        )
    ]
    site_p, app_p = _zipf(n_sites, 1.1, rng) * _SITE_SHARE, _zipf(n_apps, 1.05, rng) * (1 - _SITE_SHARE)
    pub_p = np.concatenate([site_p, app_p])
    pub_ctr = np.clip(rng.lognormal(0.0, 0.45, n_sites + n_apps), 0.1, 3.0)

    n_campaigns = 400
    c17 = rng.choice(np.arange(112, 2759), n_campaigns, replace=False)
    campaign_p = _zipf(n_campaigns, 0.95, rng)
    c18_values, c18_p = _table(C18_VALUES)
    c18 = rng.choice(c18_values, n_campaigns, p=c18_p)  # type: ignore[arg-type]
    c19 = rng.choice(C19_VALUES, n_campaigns, p=_zipf(len(C19_VALUES), 1.2, rng))
    c21 = rng.choice(C21_VALUES, n_campaigns, p=_zipf(len(C21_VALUES), 1.1, rng))
    per_campaign = np.minimum(rng.geometric(0.18, n_campaigns), 25)
    c14 = rng.choice(np.arange(375, 24053), int(per_campaign.sum()), replace=False)
    sizes, size_p = _table(BANNER_SIZES)
    creative_seg, creative_p, creative_c21 = [], [], []
    k = 0
    for camp in range(n_campaigns):
        within = _zipf(int(per_campaign[camp]), 1.2, rng)
        for w in within:
            width, height = sizes[rng.choice(len(sizes), p=size_p)]  # type: ignore[misc]
            creative_seg.append(f"{c14[k]},{width},{height},{c17[camp]},{c18[camp]},{c19[camp]},".encode())
            creative_p.append(campaign_p[camp] * w)
            creative_c21.append(camp)
            k += 1

    c20_values = rng.choice(np.arange(100_000, 100_260), 170, replace=False)
    c20_seg = _segments([b"-1", *[str(v).encode() for v in c20_values]])
    c20_p = np.concatenate([[C20_UNKNOWN_SHARE], _zipf(len(c20_values), 1.1, rng) * (1 - C20_UNKNOWN_SHARE)])

    return _Universe(
        pub_seg=_segments(sites + apps, b""),
        pub_p=pub_p / pub_p.sum(),
        pub_ctr=pub_ctr,
        model_seg=_segments(_hex8(rng, 8_000)),
        model_p=_zipf(8_000, 1.0, rng),
        ip_seg=_segments(_hex8(rng, 20_000)),
        ip_p=_zipf(20_000, 0.9, rng),
        creative_seg=_segments(creative_seg, b""),
        creative_p=_norm(creative_p),
        creative_c21=_segments([str(v).encode() for v in c21], b"\n")[np.array(creative_c21)],
        c20_seg=c20_seg,
        c20_p=c20_p,
    )


def hourly_counts(rows: int, start_hour: str, hours: int) -> list[tuple[str, int]]:
    """Rows per hour (largest-remainder rounding of the daily curve, so they sum to exactly ``rows``)."""
    if rows < 0 or hours < 1:
        raise ValueError("rows must be >= 0 and hours >= 1")
    start = datetime.fromtimestamp(hour_start_ms(start_hour) / 1000, UTC)
    stamps = [start + timedelta(hours=h) for h in range(hours)]
    weights = np.array([HOUR_OF_DAY[t.hour] * WEEKDAY[t.weekday()] for t in stamps])
    exact = rows * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    short = rows - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return [(t.strftime("%y%m%d%H"), int(c)) for t, c in zip(stamps, counts, strict=True)]


def _corrupt(line: bytes, kind: str) -> bytes:
    fields = line.rstrip(b"\n").split(b",")
    if kind == "columns":
        fields.pop()
    elif kind == "utf8":
        fields[13] = b"\xff\xfe" + fields[13][2:]
    else:
        fields[17] = b"3x0"
    return b",".join(fields) + b"\n"


def _chunk(
    u: _Universe, rng: np.random.Generator, hour: str, first_row: int, n: int, id_base: np.uint64
) -> np.ndarray:
    """An (n, 11) object array of segments; row r's line is ``b"".join(out[r])``."""
    draw = u.samplers
    c1 = draw["c1"](rng, n)
    bp = draw["bp"](rng, n)
    conn = draw["conn"](rng, n)
    pub = draw["pub"](rng, n)
    p_click = np.minimum(u.ctr_norm * u.c1_ctr[c1] * u.bp_ctr[bp] * u.conn_ctr[conn] * u.pub_ctr[pub], 0.95)
    click = (rng.random(n) < p_click).astype(np.intp)
    creative = draw["creative"](rng, n)

    out = np.empty((n, 11), dtype=object)
    out[:, 0] = (
        _mix64(np.arange(first_row, first_row + n, dtype=np.uint64) + id_base).astype("S20").astype(object)
    )
    out[:, 1] = u.click_hour(hour)[click]
    out[:, 2] = u.c1_seg[c1 * len(BANNER_POS) + bp]
    out[:, 3] = u.pub_seg[pub]
    out[:, 4] = DEVICE_ID_PLACEHOLDER
    own_id = np.flatnonzero(rng.random(n) >= 0.825)
    out[own_id, 4] = np.strings.add(_hex8(rng, len(own_id)), b",").astype(object)
    hot = rng.random(n) < 0.3
    out[hot, 5] = u.ip_seg[draw["ip"](rng, int(hot.sum()))]
    cold = np.flatnonzero(~hot)
    out[cold, 5] = np.strings.add(_hex8(rng, len(cold)), b",").astype(object)
    out[:, 6] = u.model_seg[draw["model"](rng, n)]
    out[:, 7] = u.dt_conn_seg[c1 * len(CONN_TYPE) + conn]
    out[:, 8] = u.creative_seg[creative]
    out[:, 9] = u.c20_seg[draw["c20"](rng, n)]
    out[:, 10] = u.creative_c21[creative]
    return out


@dataclass
class GenerationResult:
    """What was written: row count, rows per hour, and the line numbers of injected bad rows by kind."""

    rows: int
    hours: list[tuple[str, int]]
    bad_lines: dict[str, list[int]] = field(default_factory=dict)


def iter_blocks(
    rows: int, start_hour: str = "14102100", hours: int = 24, seed: int = 0, bad_rows: int = 0
) -> Iterator[tuple[bytes, int]]:
    """``(data_bytes, row_count)`` blocks of the file body (no header), in order.

    Each (hour, 65,536-row chunk) draws from its own ``default_rng([seed, hour, chunk])``, so the
    output never depends on how it is consumed.
    """
    u = _build_universe(seed)
    id_base = _mix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    bad = _bad_positions(rows, bad_rows, seed)
    bad_at = sorted(bad)
    first = 0
    for hour_index, (hour, count) in enumerate(hourly_counts(rows, start_hour, hours)):
        for chunk_index, offset in enumerate(range(0, count, _CHUNK)):
            n = min(_CHUNK, count - offset)
            out = _chunk(u, np.random.default_rng([seed, hour_index, chunk_index]), hour, first, n, id_base)
            for pos in bad_at[bisect_left(bad_at, first) : bisect_left(bad_at, first + n)]:
                r = pos - first
                out[r, 0] = _corrupt(b"".join(out[r]), bad[pos])
                out[r, 1:] = b""
            for a in range(0, n, _JOIN):
                yield b"".join(out[a : a + _JOIN].ravel().tolist()), min(_JOIN, n - a)
            first += n


def _bad_positions(rows: int, bad_rows: int, seed: int) -> dict[int, str]:
    """Row index -> kind for the injected bad rows (K of each kind at seeded, distinct positions)."""
    if bad_rows < 0 or bad_rows * len(BAD_KINDS) > rows:
        raise ValueError(f"bad_rows={bad_rows}: need 0 <= {len(BAD_KINDS)} * bad_rows <= rows ({rows})")
    if not bad_rows:
        return {}
    rng = np.random.default_rng([seed, 0xBAD])
    picks = rng.choice(rows, bad_rows * len(BAD_KINDS), replace=False)
    return {int(p): BAD_KINDS[i // bad_rows] for i, p in enumerate(picks)}


def generate(
    out: str | os.PathLike[str],
    rows: int,
    start_hour: str = "14102100",
    hours: int = 24,
    seed: int = 0,
    bad_rows: int = 0,
    *,
    progress: bool | None = None,
    compresslevel: int = 1,
) -> GenerationResult:
    """Write an Avazu-format file (gzip when ``out`` ends in ``.gz``) and describe what was written.

    ``progress=None`` shows a tqdm bar on stderr for 200k rows or more. Gzip level 1 by default: it
    compresses (in its own thread) about as fast as numpy generates, at ~20% more bytes than level 6.
    """
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = GenerationResult(rows, hourly_counts(rows, start_hour, hours))
    bad = _bad_positions(rows, bad_rows, seed)
    for pos, kind in sorted(bad.items()):
        result.bad_lines.setdefault(kind, []).append(pos + 2)
    bar = _progress_bar(rows, progress)
    tmp = path.with_name(path.name + ".partial")
    try:
        with open(tmp, "wb") as sink, ThreadPoolExecutor(1) as writer:
            write = _writer(sink, compresslevel if path.name.endswith(".gz") else None)
            pending: deque[Future[None]] = deque()
            batch, batch_rows = [AVAZU_HEADER + b"\n"], 0
            for data, n in iter_blocks(rows, start_hour, hours, seed, bad_rows):
                batch.append(data)
                batch_rows += n
                if batch_rows >= _CHUNK:
                    pending.append(writer.submit(write, b"".join(batch)))
                    bar.update(batch_rows)
                    batch, batch_rows = [], 0
                    while len(pending) > 2:
                        pending.popleft().result()
            pending.append(writer.submit(write, b"".join(batch)))
            bar.update(batch_rows)
            for future in pending:
                future.result()
        os.replace(tmp, path)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    return result


def _writer(sink: IO[bytes], gzip_level: int | None) -> Callable[[bytes], None]:
    """Runs in one worker thread (zlib and file writes release the GIL) while numpy makes the next rows.

    Each gzip-compressed block is a complete gzip member; their concatenation is a valid gzip file.
    """
    if gzip_level is None:
        return sink.write  # type: ignore[return-value]

    def write(data: bytes) -> None:
        sink.write(gzip.compress(data, gzip_level, mtime=0))

    return write


def _progress_bar(rows: int, progress: bool | None) -> Any:
    from tqdm import tqdm

    disable = rows < 200_000 if progress is None else not progress
    return tqdm(total=rows, unit="rows", unit_scale=True, file=sys.stderr, disable=disable, smoothing=0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.ingest.generator",
        description="Write a synthetic Avazu-format CSV (gzip if --out ends in .gz), deterministic per seed.",
    )
    parser.add_argument(
        "--rows", type=int, required=True, help="data rows to write (exact, bad ones included)"
    )
    parser.add_argument("--start-hour", default="14102100", help="first hour, YYMMDDHH (default 14102100)")
    parser.add_argument("--hours", type=int, default=24, help="hours to spread the rows over (default 24)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--out", required=True, help="output file; .gz suffix means gzip")
    parser.add_argument(
        "--bad-rows",
        type=int,
        default=0,
        metavar="K",
        help=f"replace K rows with each parsing-error kind ({', '.join(BAD_KINDS)}) for DLQ tests",
    )
    parser.add_argument("--compresslevel", type=int, default=1, choices=range(1, 10), metavar="1-9")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    try:
        result = generate(
            args.out,
            args.rows,
            args.start_hour,
            args.hours,
            args.seed,
            args.bad_rows,
            progress=args.progress,
            compresslevel=args.compresslevel,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(f"wrote {result.rows} rows over {len(result.hours)} hours to {args.out}", file=sys.stderr)
    for kind, lines in result.bad_lines.items():
        print(f"bad rows ({kind}) at lines: {', '.join(map(str, lines[:20]))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
