"""Tests of the target-parquet loader (loaders/target-parquet)."""
