"""Command line: `python -m shardrun run | merge-state | meltano-yml`.

    run          run the N shards (pipe or meltano mode) on Dask or local threads
    merge-state  union shard states (and split them for a new shard count)
    meltano-yml  print inherited extractors and jobs (and, asked, schedules) for N shards

Exit codes of `run`: 0 every shard succeeded; 1 some shard failed (each is reported with
its summary, the others ran to their end); 2 usage or work-directory problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shardrun", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run(commands.add_parser("run", help="run every shard (or only the failed ones)"))
    merge = commands.add_parser("merge-state", help="merge shard states: a union of partitions")
    merge.add_argument("states", nargs="+", type=Path,
                       help="state files (a Singer state, or `meltano state get` output)")
    merge.add_argument("--shard", help="keep only the partitions of shard k/N of a new count")
    merge.add_argument("--meltano", action="store_true",
                       help='wrap the output as {"singer_state": ...} for `meltano state set`')
    yml = commands.add_parser("meltano-yml", help="print sharded Meltano jobs for N shards")
    yml.add_argument("--extractor", required=True)
    yml.add_argument("--loader", required=True)
    yml.add_argument("--shards", type=int, required=True)
    yml.add_argument("--name", required=True, help="prefix of the job and schedule names")
    yml.add_argument("--summary-dir", default="${MELTANO_PROJECT_ROOT}/output",
                     help="folder of the per-shard run summaries")
    yml.add_argument("--schedule", metavar="INTERVAL",
                     help="also write a schedule per shard with this interval (@daily, a cron "
                     "expression); without it, no schedules: the jobs only")
    return parser


def _add_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("--shards", type=int, required=True, help="N: the shard count")
    run.add_argument("--work-dir", type=Path, required=True,
                     help="per-shard state, summaries, logs and the manifest of outcomes")
    run.add_argument("--mode", choices=("pipe", "meltano"), default="pipe")
    run.add_argument("--tap", required=True,
                     help="pipe: the tap executable; meltano: the extractor whose "
                     "inherited shard extractors <tap>--shard-k-of-N run")
    run.add_argument("--target", required=True,
                     help="pipe: the target executable; meltano: the loader's name")
    run.add_argument("--tap-config", type=Path, help="pipe: the tap's config JSON (no shard)")
    run.add_argument("--target-config", type=Path, help="pipe: the target's config JSON")
    run.add_argument("--project-root", type=Path, default=Path.cwd(),
                     help="meltano: the project (default: here)")
    run.add_argument("--environment",
                     help="meltano: the environment (required: it is part of the state ids)")
    run.add_argument("--rerun-failed", action="store_true",
                     help="run only the shards whose last run in --work-dir did not succeed")
    run.add_argument("--executor", choices=("dask", "threads", "prefect"), default="dask",
                     help="dask: one Dask task per shard; threads: no Dask; prefect: a Prefect "
                     "flow mapping one task per shard on prefect-dask's DaskTaskRunner")
    run.add_argument("--shard-retries", type=int, default=1,
                     help="prefect: retries of a failed shard within the run, by Prefect "
                     "(the shard alone; it resumes from its confirmed state)")
    run.add_argument("--retry-delay", type=float, default=10.0,
                     help="prefect: seconds before a failed shard is retried")
    run.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://...); "
                     "default: start a LocalCluster")
    run.add_argument("--workers", type=int,
                     help="LocalCluster worker processes, or threads; each runs one shard at "
                     "a time (default: one per shard)")
    run.add_argument("--dask-logs", action="store_true",
                     help="show Dask's own INFO logs (scheduler and workers starting and "
                     "stopping); by default only its warnings and errors")
    run.add_argument("--shard-timeout", type=float,
                     help="seconds after which a shard's tap is stopped (SIGTERM: it writes "
                     "its state) and the shard counts as failed")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.command == "meltano-yml":
        from shardrun.meltano_yml import meltano_shards_yaml  # noqa: PLC0415

        sys.stdout.write(meltano_shards_yaml(
            args.extractor, args.loader, args.shards, name=args.name,
            summary_dir=args.summary_dir, schedule=args.schedule))
        return 0
    try:
        return _merge_state(args) if args.command == "merge-state" else _run(args)
    except UsageProblem as problem:
        return _usage(str(problem))


def _run(args: argparse.Namespace) -> int:
    # Imported here: `merge-state` and `meltano-yml` need none of it.
    from shardrun.executors import DaskMissing  # noqa: PLC0415
    from shardrun.jobs import MeltanoSpec, PipeSpec  # noqa: PLC0415
    from shardrun.runner import RunRequest, run  # noqa: PLC0415
    from shardrun.workdir import WorkDirProblem  # noqa: PLC0415

    if args.shards < 1 or (args.workers is not None and args.workers < 1):
        return _usage("--shards and --workers must be at least 1")
    spec: PipeSpec | MeltanoSpec
    if args.mode == "pipe":
        if args.tap_config is None or args.target_config is None:
            return _usage("pipe mode needs --tap-config and --target-config")
        spec = PipeSpec(args.tap, _read_json(args.tap_config, "--tap-config"), args.target,
                        _read_json(args.target_config, "--target-config"))
    else:
        if not args.environment:
            return _usage("meltano mode needs --environment (state ids depend on it)")
        spec = MeltanoSpec(args.tap, args.target, str(args.project_root.resolve()),
                           args.environment)
    if args.executor == "prefect":
        return _run_prefect(args)
    request = RunRequest(
        shard_count=args.shards, work_dir=args.work_dir, spec=spec,
        rerun_failed=args.rerun_failed, executor=args.executor, scheduler=args.scheduler,
        workers=args.workers, timeout_s=args.shard_timeout, dask_logs=args.dask_logs,
    )
    try:
        return run(request, say=lambda line: print(line, flush=True))
    except (WorkDirProblem, DaskMissing) as problem:
        return _usage(str(problem))


def _run_prefect(args: argparse.Namespace) -> int:
    from shardrun.workdir import WorkDirProblem  # noqa: PLC0415

    if args.shard_retries < 0:
        return _usage("--shard-retries must be at least 0")
    try:
        from shardrun.prefect_flow import run_flow  # noqa: PLC0415
    except ImportError as missing:
        return _usage(f"the Prefect executor needs prefect and prefect-dask, an optional "
                      f"extra: pip install 'shardrun[prefect]' ({missing})")

    def path(value: Path | None) -> str | None:
        return None if value is None else str(value.resolve())

    parameters = {
        "shards": args.shards, "work_dir": str(args.work_dir.resolve()), "tap": args.tap,
        "target": args.target, "tap_config": path(args.tap_config),
        "target_config": path(args.target_config), "mode": args.mode,
        "project_root": path(args.project_root), "environment": args.environment,
        "rerun_failed": args.rerun_failed, "shard_retries": args.shard_retries,
        "retry_delay_s": args.retry_delay, "shard_timeout_s": args.shard_timeout,
    }
    try:
        return run_flow(parameters, scheduler=args.scheduler,
                        workers=args.workers or args.shards, dask_logs=args.dask_logs)
    except WorkDirProblem as problem:
        return _usage(str(problem))


def _merge_state(args: argparse.Namespace) -> int:
    from shardrun.state_merge import merge_states, state_for_shard  # noqa: PLC0415
    from singer_fanout.errors import ConfigurationProblem  # noqa: PLC0415
    from singer_fanout.settings import Shard  # noqa: PLC0415

    states = [_unwrap(_read_json(path, "state file")) for path in args.states]
    merged = merge_states(states)
    if args.shard:
        try:
            merged = state_for_shard(merged, Shard.parse(args.shard))
        except ConfigurationProblem as problem:
            return _usage(str(problem))
    out = {"singer_state": merged} if args.meltano else merged
    sys.stdout.write(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return 0


def _unwrap(state: dict[str, Any]) -> dict[str, Any]:
    """`meltano state get` prints {"singer_state": {...}}; a tap's state is the inside."""
    inner = state.get("singer_state")
    return inner if isinstance(inner, dict) else state


class UsageProblem(Exception):
    """A command-line input that cannot be used: said in one line, exit 2."""


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise UsageProblem(f"{what} {path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise UsageProblem(f"{what} {path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise UsageProblem(f"{what} {path}: expected a JSON object, got "
                           f"{type(data).__name__}")
    return data


def _usage(message: str) -> int:
    print(f"shardrun: error: {message}", file=sys.stderr)
    return EXIT_USAGE
