"""STATE is emitted only once the records it covers are on disk; SCHEMA changes mid-stream."""

from __future__ import annotations

import contextlib
import io
import json
import re

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from target_parquet_lake import TargetParquet

NAME_N = re.compile(r"-(\d+)-(\d+)\.snappy\.parquet$")


class _DiskCheckingStdout(io.StringIO):
    """Stands in for stdout: at every STATE line, checks what is on disk right then."""

    def __init__(self, tp) -> None:
        super().__init__()
        self.tp = tp
        self.checked: list[int] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if not line.strip():
                continue
            bookmark = json.loads(line)["bookmark"]
            on_disk = set()
            for path in self.tp.files("metrics"):
                on_disk |= set(pq.ParquetFile(path).read().column("requests").to_pylist())
            # Every record sent before this STATE is in a complete, final-named file.
            assert set(range(bookmark + 1)) <= on_disk, (bookmark, sorted(on_disk))
            assert not list(self.tp.out.rglob("*.tmp"))
            self.checked.append(bookmark)
        return super().write(text)


def test_state_only_after_records_are_on_disk(tp):
    msgs = tp.metrics_messages()
    for row in tp.metrics(12):
        msgs.record("metrics", row).state({"bookmark": row["requests"]})

    # A microscopic flush interval: every STATE finds its records "old", so the target
    # drains and emits STATE mid-stream, after each one.
    target = TargetParquet(config=tp.config({"max_batch_size": 5, "flush_interval_seconds": 1e-6}))
    stdout = _DiskCheckingStdout(tp)
    with contextlib.redirect_stdout(stdout):
        target.listen(file_input=io.StringIO(msgs.text()))

    # STATE came out mid-stream, repeatedly, and the last one covers everything.
    assert len(stdout.checked) > 5
    assert stdout.checked == sorted(stdout.checked)
    assert stdout.checked[-1] == 11


def test_final_state_from_cli(tp):
    msgs = (
        tp.metrics_messages()
        .records("metrics", tp.metrics(5))
        .state({"bookmarks": {"metrics": 1}})
        .records("metrics", tp.metrics(5, 5))
        .state({"bookmarks": {"metrics": 2}})
    )
    result = tp.cli(msgs, max_batch_size=3)
    assert result.returncode == 0, result.stderr
    states = [json.loads(line) for line in result.stdout.splitlines()]
    assert states == [{"bookmarks": {"metrics": 2}}]
    assert sorted(tp.read("metrics").column("requests").to_pylist()) == list(range(10))


def test_schema_change_mid_stream(tp):
    v1 = {"type": "object", "properties": {"id": {"type": "integer"}, "value": {"type": "integer"}}}
    v2 = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "value": {"type": "number"},
            "label": {"type": ["null", "string"]},
        },
    }
    msgs = (
        tp.messages()
        .schema("s", v1, ["id"])
        .records("s", [{"id": i, "value": i} for i in range(3)])
        .schema("s", v1, ["id"])  # unchanged: no flush, same sink
        .records("s", [{"id": i, "value": i} for i in range(3, 5)])
        .schema("s", v2, ["id"])  # changed: what v1 buffered is flushed first
        .records("s", [{"id": i, "value": i + 0.5, "label": f"l{i}"} for i in range(5, 8)])
    )
    tp.run(msgs, max_batch_size=3)

    # Flush numbers follow record order: v1's leftover (3, 4) is written at the SCHEMA
    # change, before v2's first full batch, not at the end of the run.
    paths = sorted(tp.files("s"), key=lambda p: int(NAME_N.search(p.name).group(1)))
    assert [NAME_N.search(p.name).groups() for p in paths] == [("0", "0"), ("1", "0"), ("2", "0")]
    tables = [tp.without_metadata(pq.read_table(p)) for p in paths]
    assert [t.column("id").to_pylist() for t in tables] == [[0, 1, 2], [3, 4], [5, 6, 7]]
    v1_arrow = pa.schema(
        [pa.field("id", pa.int64(), nullable=False), pa.field("value", pa.int64(), nullable=False)],
    )
    assert tables[0].schema == tables[1].schema == v1_arrow
    assert tables[2].schema.field("value").type == pa.float64()
    assert tables[2].schema.field("label").nullable

    got = duckdb.sql(
        "select id, value, label from read_parquet($files, union_by_name = true) order by id",
        params={"files": tp.glob("s")},
    ).fetchall()
    assert got == [(i, float(i), None) for i in range(5)] + [
        (i, i + 0.5, f"l{i}") for i in range(5, 8)
    ]
