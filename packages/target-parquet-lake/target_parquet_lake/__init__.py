"""Singer target writing Parquet files, settings-compatible with MeltanoHub's default variant."""

from __future__ import annotations

from target_parquet_lake.target import TargetParquet

__all__ = ["TargetParquet"]
