"""Files: naming, compression, roll-over without loss or repeats, atomic writes."""

from __future__ import annotations

import re
from collections import Counter

import duckdb
import pyarrow.parquet as pq
import pytest
from singer_sdk.exceptions import ConfigValidationError

from target_parquet_lake import TargetParquet

NAME = re.compile(
    r"^(?P<stream>.+)-(?P<ts>\d{8}_\d{6})_(?P<run>[0-9a-f]{8})-(?P<n>\d+)-(?P<i>\d+)"
    r"(?P<ext>(\.\w+)?\.parquet)$",
)


def _flush_part(path):
    match = NAME.match(path.name)
    return int(match["n"]), int(match["i"])


def test_file_name_and_default_snappy(tp):
    tp.run(tp.metrics_messages().records("metrics", tp.metrics(3)))

    (path,) = tp.files("metrics")
    match = NAME.match(path.name)
    assert match, path.name
    assert match["stream"] == "metrics"
    assert (match["n"], match["i"], match["ext"]) == ("0", "0", ".snappy.parquet")
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "SNAPPY"


@pytest.mark.parametrize(
    ("method", "codec", "ext"),
    [
        ("gzip", "GZIP", ".gzip.parquet"),
        ("brotli", "BROTLI", ".brotli.parquet"),
        ("zstd", "ZSTD", ".zstd.parquet"),
        ("lz4", "LZ4", ".lz4.parquet"),
        ("none", "UNCOMPRESSED", ".parquet"),
    ],
)
def test_compression_method_is_honoured(tp, method, codec, ext):
    msgs = tp.metrics_messages()
    tp.run(msgs.records("metrics", tp.metrics(20)), compression_method=method)

    (path,) = tp.files("metrics")
    assert NAME.match(path.name)["ext"] == ext
    metadata = pq.ParquetFile(path).metadata
    codecs = {metadata.row_group(0).column(c).compression for c in range(metadata.num_columns)}
    assert codecs == {codec}
    count = duckdb.sql("select count(*) from read_parquet($f)", params={"f": str(path)})
    assert count.fetchall() == [(20,)]


def test_invalid_compression_is_a_config_error(tmp_path):
    with pytest.raises(ConfigValidationError) as excinfo:
        TargetParquet(config={"destination_path": str(tmp_path), "compression_method": "rar"})
    assert any("compression_method" in error and "rar" in error for error in excinfo.value.errors)


def test_invalid_compression_cli_exit_code(tp):
    msgs = tp.metrics_messages()
    result = tp.cli(msgs.records("metrics", tp.metrics(1)), compression_method="snapy")
    assert result.returncode != 0
    assert "compression_method" in result.stderr
    assert "'snapy' is not one of" in result.stderr
    assert not tp.out.exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"extra_fields": "a=1", "extra_fields_types": "a=int"},
            "extra_fields_types: 'a' has unknown type 'int'",
        ),
        (
            {"extra_fields": "a=x", "extra_fields_types": "a=integer"},
            "extra_fields: a='x' is not a valid integer",
        ),
        (
            {"extra_fields": "a=1", "extra_fields_types": "b=string"},
            "extra_fields_types: 'b' is not one of the extra_fields",
        ),
        ({"extra_fields": "novalue"}, "extra_fields: 'novalue' is not of the form key=value"),
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"partition_cols": "date,date"}, "partition_cols"),
    ],
)
def test_other_config_errors_name_the_setting(tmp_path, config, message):
    with pytest.raises(ConfigValidationError) as excinfo:
        TargetParquet(config={"destination_path": str(tmp_path), **config})
    assert any(message in error for error in excinfo.value.errors), excinfo.value.errors


def test_rollover_by_batch_size_and_table_size(tp):
    """Many files from tiny limits, and exactly the records sent: none lost, none twice."""
    rows = tp.metrics(250)
    tp.run(
        tp.metrics_messages().records("metrics", rows),
        max_batch_size=40,
        max_pyarrow_table_size=0.0005,  # ~520 bytes: several parts per flush
    )

    paths = sorted(tp.files("metrics"), key=_flush_part)
    names = [NAME.match(p.name) for p in paths]
    assert len({m["run"] for m in names}) == 1
    parts = Counter(n for n, _ in map(_flush_part, paths))
    assert set(parts) == set(range(7))  # ceil(250 / 40) flushes, numbered from 0
    assert all(parts[n] > 1 for n in range(6)), parts  # full flushes rolled over by size
    for n, count in parts.items():  # part indexes are 0..k-1 within each flush
        assert sorted(i for m, i in map(_flush_part, paths) if m == n) == list(range(count))

    # Exact multiset equality with what was sent.
    table = tp.read("metrics")
    got = Counter(zip(table["service_id"].to_pylist(), table["requests"].to_pylist(), strict=True))
    assert got == Counter((r["service_id"], r["requests"]) for r in rows)
    total = duckdb.sql(
        "select count(*), count(distinct requests) from read_parquet($files)",
        params={"files": tp.glob("metrics")},
    )
    assert total.fetchall() == [(250, 250)]

    # Read in (n, i) order, the files hold the records in the order they were sent.
    ordered = [v for p in paths for v in pq.read_table(p).column("requests").to_pylist()]
    assert ordered == [r["requests"] for r in rows]


def test_two_runs_in_the_same_second_do_not_clash(tp):
    """Both runs start with flush 0 part 0 in the same second; the run token separates them."""
    for start in (0, 5):
        msgs = tp.metrics_messages()
        tp.run(msgs.records("metrics", tp.metrics(5, start)))

    paths = tp.files("metrics")
    assert len(paths) == 2
    first, second = (NAME.match(p.name) for p in paths)
    assert (first["n"], first["i"]) == (second["n"], second["i"]) == ("0", "0")
    assert first["run"] != second["run"]
    assert tp.read("metrics").num_rows == 10


def test_write_goes_through_a_hidden_temp_file(tp, monkeypatch):
    """While a file is written only `.<name>.tmp` exists; the final name appears by rename."""
    real_write_table = pq.write_table
    seen = []

    def spying_write_table(table, where, **kwargs):
        name = where.name  # an open file object
        seen.append(name)
        assert name.rsplit("/", 1)[1].startswith(".")
        assert name.endswith(".parquet.tmp")
        assert not tp.files()  # nothing under a final name yet
        real_write_table(table, where, **kwargs)

    monkeypatch.setattr(pq, "write_table", spying_write_table)
    msgs = tp.metrics_messages()
    tp.run(msgs.records("metrics", tp.metrics(3)))

    (path,) = tp.files("metrics")
    assert seen == [str(path.parent / f".{path.name}.tmp")]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_failed_write_leaves_no_parquet_file(tp, monkeypatch):
    """A writer dying mid-file leaves nothing a reader would pick up."""

    def failing_write_table(table, where, **kwargs):
        where.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", failing_write_table)
    msgs = tp.metrics_messages()
    msgs.records("metrics", tp.metrics(3)).state({"bookmarks": {"metrics": "x"}})
    with pytest.raises(OSError, match="disk full"):
        tp.run(msgs)

    assert tp.files() == []
    assert [p for p in tp.out.rglob("*") if p.is_file()] == []  # temp file removed too
