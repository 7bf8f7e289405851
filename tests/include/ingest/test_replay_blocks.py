"""The replay's parts that need no service: input checks, routing of lines to partitions and senders."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from include.ingest.avazu_reader import iter_lines, open_avazu
from include.ingest.blocks import BLOCK_ROWS, iter_blocks
from include.ingest.event_time import iter_hour_batches
from include.ingest.generator import generate
from include.ingest.replay_errors import InputError, ServiceError
from include.ingest.replay_input import check_input, first_batch
from include.kafka.partitioner import partition_of


def blocks_of(
    path: Path, partitions: int, workers: int
) -> list[tuple[int, list[bytes], list[int], list[int]]]:
    """``(worker, lines, positions, partitions)`` of every block, in the order they are handed out."""
    with open_avazu(path) as stream:
        out = []
        for wid, block, _batch in iter_blocks(
            iter_hour_batches(iter_lines(stream), None, None), partitions, workers
        ):
            out.append((wid, block.payload.split(b"\n"), list(block.positions), list(block.partitions)))
        return out


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blocks") / "two_hours.csv"
    generate(path, 5_000, "14102100", 2, seed=11, progress=False)
    return path


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_every_line_goes_once_to_the_partition_of_its_event_id(two_hours: Path, workers: int) -> None:
    lines = two_hours.read_bytes().splitlines()[1:]
    sent = [
        (line, p)
        for _w, block_lines, _pos, parts in blocks_of(two_hours, 3, workers)
        for line, p in zip(block_lines, parts, strict=True)
    ]
    assert sorted(line for line, _p in sent) == sorted(lines)
    assert all(
        p == partition_of(line.split(b",", 1)[0], 3) == zlib.crc32(line.split(b",", 1)[0]) % 3
        for line, p in sent
    )


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_each_sender_owns_its_partitions_and_gets_them_in_file_order(two_hours: Path, workers: int) -> None:
    order = {line: i for i, line in enumerate(two_hours.read_bytes().splitlines()[1:])}
    seen: dict[int, list[int]] = {}
    for wid, block_lines, _pos, parts in blocks_of(two_hours, 3, workers):
        assert len(block_lines) <= BLOCK_ROWS
        assert all(p % workers == wid for p in parts)
        seen.setdefault(wid, []).extend(order[line] for line in block_lines)
    assert all(rows == sorted(rows) for rows in seen.values())


def test_positions_are_each_lines_index_within_its_hour(two_hours: Path) -> None:
    hours: dict[bytes, list[bytes]] = {}
    for line in two_hours.read_bytes().splitlines()[1:]:
        hours.setdefault(line.split(b",")[2], []).append(line)
    for _wid, block_lines, positions, _parts in blocks_of(two_hours, 3, 2):
        hour = hours[block_lines[0].split(b",")[2]]
        assert [hour[i] for i in positions] == block_lines


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "file not found"),
        ("directory", "not a file"),
        ("header", "not an Avazu header"),
        ("malformed hour", "bad hour range"),
        ("reversed range", "from 14102105 is after to 14102101"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(
    tmp_path: Path, sample_path: Path, kind: str, message: str
) -> None:
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("a,b,c\n1,2,3\n")
    path, hour_from, hour_to = {
        "missing": (tmp_path / "nope.csv", None, None),
        "directory": (tmp_path, None, None),
        "header": (bad_header, None, None),
        "malformed hour": (sample_path, "1410", None),
        "reversed range": (sample_path, "14102105", "14102101"),
    }[kind]
    with pytest.raises(InputError, match=message) as raised:
        check_input(path, hour_from, hour_to)
    assert raised.value.exit_code == 2 and "\n" not in str(raised.value)


def test_an_empty_hour_range_names_the_files_hours(sample_path: Path) -> None:
    with pytest.raises(InputError, match=r"no rows in hours 14102300\.\.14102301 .*14102100\.\.14102100"):
        check_input(sample_path, "14102300", "14102301")
    with open_avazu(sample_path) as stream, pytest.raises(InputError) as raised:
        first_batch(
            iter_hour_batches(iter_lines(stream), "14102300", "14102301"), sample_path, "14102300", "14102301"
        )
    assert "no rows in hours 14102300..14102301" in str(raised.value)
    assert "the file has hours 14102100..14102100" in str(raised.value)


def test_the_first_batch_of_a_range(sample_path: Path) -> None:
    with open_avazu(sample_path) as stream:
        first = first_batch(iter_hour_batches(iter_lines(stream), None, None), sample_path, None, None)
    assert first.hour == b"14102100" and len(first.lines) == 100


def test_an_unreachable_service_exits_3_and_may_be_retried() -> None:
    assert ServiceError("Kafka unreachable").exit_code == 3
