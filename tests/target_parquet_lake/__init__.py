"""Tests of the target-parquet loader (packages/target-parquet-lake)."""
