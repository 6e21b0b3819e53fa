"""Run the k/N shards of a fan-out tap side by side, each with its own state.

One task per shard, each running the shard's tap piped into the target (or the shard's
`meltano run`), fanned out on Dask distributed (an existing scheduler, or a LocalCluster
started for the run) or on local threads. A shard that fails is reported with its own run
summary and does not stop the others; the outcome of every shard is kept in a manifest in
the work directory so that a rerun repeats only what failed.

    python -m shardrun run --shards 4 --work-dir work/ --tap TAP --tap-config tap.json \\
        --target TARGET --target-config target.json

The runner never names a vendor: the tap is whatever executable it is given, as long as it
understands the `shard` and `summary_path` settings. Importing this package starts nothing
and does not import dask: that happens in `shardrun.executors`, only when a run asks for it.
"""
