"""`python -m target_parquet_lake`: the same CLI as the `target-parquet` script."""

from __future__ import annotations

from target_parquet_lake.target import TargetParquet

TargetParquet.cli()
