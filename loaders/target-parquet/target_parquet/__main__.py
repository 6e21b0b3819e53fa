"""`python -m target_parquet`: the same CLI as the `target-parquet` script."""

from __future__ import annotations

from target_parquet.target import TargetParquet

TargetParquet.cli()
