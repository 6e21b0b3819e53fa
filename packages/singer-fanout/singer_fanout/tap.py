"""The tap base class: singer-sdk's `Tap` with the fan-out engine as its sync.

A vendor tap declares its settings defaults, auth headers, error rules, rate-limit header
parser and how to start its sandbox; everything else (concurrency, isolation, state, the
summary, exit codes, secret redaction) comes from here.

Exit codes (the CLI): 0 success; 1 finished but some partitions failed (everything else was
emitted and bookmarked); 2 configuration or credential problem (nothing was requested, or
the vendor rejected the credential); 3 interrupted by SIGTERM/SIGINT (state written for
everything emitted); 4 the target stopped reading (stdout is a broken pipe).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import IO, Any, ClassVar, cast

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from singer_sdk.singerlib import StateMessage
from singer_sdk.singerlib.encoding import GenericSingerWriter
from singer_sdk.streams import Stream
from typing_extensions import override

from singer_fanout import redaction, sdk_seam
from singer_fanout.auth import Auth, StaticHeaders
from singer_fanout.config_check import check_setting_names, check_writable
from singer_fanout.counters import RunCounters
from singer_fanout.dates import utc_today
from singer_fanout.engine import FanOutEngine, Partition
from singer_fanout.error_rules import ErrorRules
from singer_fanout.errors import ConfigurationProblem, CredentialRejected, RunInterrupted
from singer_fanout.http_client import HttpClient
from singer_fanout.listings import (
    AccountNotListed,
    ListingsSeen,
    accounts_not_listed,
    unlisted_bookmarks,
)
from singer_fanout.outputs import StreamOutputs
from singer_fanout.pacing import Pacer, PublishedRate
from singer_fanout.ratelimit import RateLimiter, RateLimitInfo
from singer_fanout.settings import RunSettings, VendorDefaults
from singer_fanout.state import PartitionStateBook, StateEmitter
from singer_fanout.state_file import WRITTEN_BY, StreamShape, UnusableState, check_state
from singer_fanout.steps import PartitionPlan, WholePartitionPlan
from singer_fanout.stream import PartitionedStream, SelectedAccountsOnly
from singer_fanout.summary import RunSummary
from singer_fanout.writer import StateFlushingWriter

EXIT_OK = 0
EXIT_PARTIAL_FAILURE = 1
EXIT_CONFIGURATION = 2
EXIT_INTERRUPTED = 3
EXIT_TARGET_STOPPED_READING = 4
TARGET_STOPPED_READING = (
    "the target stopped reading (the tap's output is a broken pipe: the target exited or "
    "closed its input); stopping. Resume from the last STATE the target acknowledged"
)
# "<value> is not of type 'string' in config['api_token']": the type, without the value.
_WANTED_TYPE = re.compile(r" is not of type ('[^']*'(?:, '[^']*')*) in config\[")
# STATE also goes out after this many records, whatever the time interval says.
STATE_EVERY_RECORDS = 50_000
EMIT_ACTIVATE_VERSION = th.Property(
    "emit_activate_version_messages", th.BooleanType, default=False,
    description=(
        "Send ACTIVATE_VERSION for the full-table streams: their records carry a new table "
        "version, activated at the end of a run in which every partition of the stream "
        "succeeded, so a target that supports it (e.g. target-postgres) soft- or "
        "hard-deletes rows the vendor no longer lists."
    ),
).to_dict()["emit_activate_version_messages"]


class PartialFailure(Exception):
    """The run finished, but some partitions failed; their bookmarks did not move."""


class TargetStoppedReading(Exception):
    """Nothing reads the tap's output any more: the run cannot deliver anything."""


class FanOutTap(sdk_seam.SdkSyncSeam):
    vendor: ClassVar[VendorDefaults]
    error_rules: ClassVar[ErrorRules]
    message_writer_class: type[GenericSingerWriter] = StateFlushingWriter
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.BATCH,
        TapCapabilities.ACTIVATE_VERSION,
    ]

    # --- what a vendor tap provides -------------------------------------------------------

    # Root stream first; each child names its parent with `parent_stream_type`.
    stream_types: ClassVar[Sequence[type[Stream]]] = ()

    def discover_streams(self) -> list[Stream]:
        return [stream_type(self) for stream_type in self.stream_types]

    @staticmethod
    def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo:
        return RateLimitInfo(None, None, None)

    def auth_headers(self, credential: str) -> dict[str, str]:
        raise NotImplementedError

    def make_auth(self, credential: str, on_secret: Callable[[str], None]) -> Auth:
        """How requests authenticate; by default the static `auth_headers`. A tap whose
        credential is exchanged for tokens returns e.g. `OAuth2ClientCredentials`, handing
        each token to `on_secret` so that logs mask it like a configured secret."""
        return StaticHeaders(self.auth_headers(credential))

    # The header the vendor reads an idempotency key from, if it honours one: POSTs then
    # carry a fresh key (the same on every retry) and are retried like GETs.
    idempotency_key_header: ClassVar[str | None] = None
    def published_rate(self) -> PublishedRate | None:
        """The rate the vendor documents but announces in no header: paced from the start."""
        return None

    def open_sandbox(self) -> contextlib.AbstractContextManager[tuple[str, str]]:
        """Start the bundled sandbox; yields (base URL, credential it accepts)."""
        raise NotImplementedError

    # --- built lazily, once per tap instance (nothing at import or construction) ----------

    @cached_property
    def run_settings(self) -> RunSettings:
        redaction.protect(self.config, self.config_jsonschema)
        check_setting_names(self.config, self.config_jsonschema["properties"], self.name)
        settings = RunSettings.from_config(self.config, self.vendor)
        if settings.summary_path:
            check_writable("summary_path", settings.summary_path)
        return settings

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The first moment the settings are known: from here on no output shows a secret,
        # the validator's own messages included (a credential of the wrong type is quoted).
        redaction.protect(self.config, self.config_jsonschema)
        secret = redaction.secret_settings(self.config_jsonschema)
        try:
            problems = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as error:
            raise ConfigValidationError(
                str(error), errors=[_without_secret(p, secret) for p in error.errors],
                schema=error.schema,
            ) from None
        return [_without_secret(p, secret) for p in problems]

    @cached_property
    def counters(self) -> RunCounters:
        return RunCounters()

    @cached_property
    def state_book(self) -> PartitionStateBook:
        return PartitionStateBook(cast("dict[str, Any]", self.state))

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(max_wait_s=self.run_settings.retry.max_rate_limit_wait_s)

    @cached_property
    def _resources(self) -> contextlib.ExitStack:
        return contextlib.ExitStack()

    @cached_property
    def http_client(self) -> HttpClient:
        settings = self.run_settings
        if self.config.get("sandbox"):
            base_url, credential = self._resources.enter_context(self.open_sandbox())
            self.logger.info("sandbox mode: syncing from the bundled sandbox at %s", base_url)
        else:
            base_url = settings.api_url
            credential = self.config[self.vendor.credential_setting]
        secrets = [credential] + [
            str(settings.vendor_values[setting.name]) for setting in self.vendor.settings
            if setting.secret and settings.vendor_values.get(setting.name)
        ]
        redactor = redaction.install(secrets)
        client = HttpClient(
            base_url=base_url,
            headers={"Accept": "application/json"},
            auth=self.make_auth(credential, redactor.add),
            idempotency_header=self.idempotency_key_header,
            pacer=Pacer(rate) if (rate := self.published_rate()) else None,
            rules=self.error_rules,
            rate_limit_parser=self.parse_rate_limit,
            credential_setting=self.vendor.credential_setting,
            api_path=self.vendor.api_path,
            retry=settings.retry,
            pool_size=settings.max_concurrency,
            counters=self.counters,
            limiter=self.rate_limiter,
        )
        self._resources.callback(client.close)
        return client

    def warn_once(self, message: str) -> None:
        seen: set[str] = self.__dict__.setdefault("_warned", set())
        if message not in seen:
            seen.add(message)
            self.logger.warning(message)

    # --- the sync -------------------------------------------------------------------------

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        super().append_builtin_config(config_jsonschema)
        # singer-sdk reads this setting in every stream but does not declare it.
        config_jsonschema["properties"].setdefault("emit_activate_version_messages",
                                                   EMIT_ACTIVATE_VERSION)

    @override
    def run_fanout_sync(self) -> None:
        settings = self.run_settings  # every configuration problem surfaces here, first
        self._interrupted_by: int | None = None
        sdk_seam.prepare_streams_for_sync(self)
        selected = [stream for stream in self.streams.values() if stream.selected]
        limited_by = ("account_ids" if settings.account_ids is not None
                      else "shard" if settings.shard is not None else None)
        outputs = StreamOutputs(self.name, selected, self.config, limited_by=limited_by)

        def write_state(state: dict[str, Any]) -> None:
            outputs.before_state()  # a STATE never covers records of an unwritten batch
            self._write_state(state)

        # So that no other tap takes this state for its own.
        self.state_book.state[WRITTEN_BY] = self.name
        summary = RunSummary(self.name, self.counters,
                             progress_every_s=settings.progress_interval_s,
                             concurrency=settings.max_concurrency,
                             rate_limit_waits=self.rate_limiter.waits)
        emitter = StateEmitter(write_state, self.state_book.state,
                               every_s=settings.state_interval_s,
                               every_records=STATE_EVERY_RECORDS,
                               redo_share=settings.state_redo_share, book=self.state_book)
        engine = FanOutEngine(
            emitter=emitter,
            summary=summary,
            max_concurrency=settings.max_concurrency,
            plan_for=plan_partition,
            interrupted=lambda: self._interrupted_by,
            steps_per_partition=settings.partition_concurrency,
            outputs=outputs,
        )
        roots = [
            stream for stream in self.streams.values()
            if not stream.parent_stream_type
            and (stream.selected or stream.has_selected_descendents)
        ]
        outcome = "success"
        try:
            self.http_client  # noqa: B018 - start the sandbox / session before the clock runs
            for stream in selected:
                sdk_seam.write_schema(stream)
            self._syncing = True
            engine.run(roots)
            self._check_listings(engine, summary)
            if summary.failed_partitions:
                outcome = "partial_failure"
        except RunInterrupted:
            outcome = "interrupted"
            raise
        except CredentialRejected as error:
            outcome = "credential_rejected"
            summary.fatal_error = str(error)
            raise
        except BrokenPipeError:
            outcome = "target_stopped_reading"
            summary.fatal_error = TARGET_STOPPED_READING
            raise TargetStoppedReading(TARGET_STOPPED_READING) from None
        except BaseException as error:
            outcome = "error"
            summary.fatal_error = f"{type(error).__name__}: {error}"
            raise
        finally:
            self._syncing = False
            outcome = self._wind_up(outcome, outputs, emitter, summary)
        if outcome == "target_stopped_reading":
            raise TargetStoppedReading(TARGET_STOPPED_READING)
        if outcome == "partial_failure":
            raise PartialFailure(f"{summary.failed_partitions} partition(s) failed; see the "
                                 "run summary")

    def _wind_up(self, outcome: str, outputs: StreamOutputs, emitter: StateEmitter,
                 summary: RunSummary) -> str:
        """The last messages, the summary, the sandbox/session closed; the final outcome."""
        if outcome != "target_stopped_reading":
            try:
                outputs.finish(complete=outcome in ("success", "partial_failure"))
                emitter.write_now()  # what was emitted stays bookmarked, whatever happened
            except BrokenPipeError:
                outcome, summary.fatal_error = "target_stopped_reading", TARGET_STOPPED_READING
        outputs.meters.close(sys.exc_info()[1])
        summary.finish(outcome, self.run_settings.summary_path)
        self._resources.close()
        return outcome

    def _check_listings(self, engine: FanOutEngine, summary: RunSummary) -> None:
        """Name `account_ids` the vendor did not list; count (or prune) stale bookmarks."""
        settings = self.run_settings
        root = next(s for s in self.streams.values() if isinstance(s, SelectedAccountsOnly))
        seen = ListingsSeen(engine.scheduled, engine.read_whole, root.name,
                            root.listed_account_ids)
        for account in accounts_not_listed(settings, seen):
            summary.partition_failed(root.name, {"account_id": account},
                                     AccountNotListed(account))
        for stream, contexts in unlisted_bookmarks(self.state_book, self.streams, settings,
                                                   seen).items():
            summary.unlisted_state[stream] = len(contexts)
            if settings.prune_unlisted_state:
                self.state_book.forget(stream, contexts)
                summary.unlisted_state_pruned = True

    def _write_state(self, state: dict[str, Any]) -> None:
        self.write_message(StateMessage(value=state))

    @override
    def on_termination_signal(self, signum: int) -> None:
        # The engine checks this flag between completions and stops cleanly; the state
        # written on the way out covers exactly what was emitted.
        self.logger.warning("received signal %d: finishing with the state so far", signum)
        self._interrupted_by = signum
        if not self.__dict__.get("_syncing", False):
            raise RunInterrupted(signum)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: Any = None,
        catalog: Any = None,
    ) -> None:
        try:
            cls.invoke_with_state(None if state is None else cls._checked_state(state),
                                  about=about, about_format=about_format, config=config,
                                  catalog=catalog)
        except (ConfigurationProblem, CredentialRejected) as error:
            cls.logger.error("%s", error)
            _exit(EXIT_CONFIGURATION)
        except UnusableState as error:
            cls.logger.error("%s", error)
            _exit(EXIT_CONFIGURATION)
        except ConfigValidationError as error:
            for problem in error.errors:
                cls.logger.error("invalid setting: %s", problem)
            _exit(EXIT_CONFIGURATION)
        except PartialFailure as error:
            cls.logger.error("%s", error)
            _exit(EXIT_PARTIAL_FAILURE)
        except TargetStoppedReading as error:
            cls.logger.error("%s", error)
            _exit(EXIT_TARGET_STOPPED_READING)
        except RunInterrupted:
            _exit(EXIT_INTERRUPTED)


    @classmethod
    def _checked_state(cls, state_file: IO[str]) -> dict[str, Any]:
        """The `--state` file, checked against this tap's streams (see state_file.py)."""
        # Stream classes declare these as class attributes (the SDK types them per instance).
        declared: list[Any] = list(cls.stream_types)
        shapes = {
            stream.name: StreamShape(getattr(stream, "context_keys", ()), stream.replication_key)
            for stream in declared
        }
        checked = check_state(state_file.read(), getattr(state_file, "name", "--state"),
                              tap_name=cls.name, streams=shapes, today=utc_today())
        for level, message in checked.notes:
            cls.logger.log(level, "%s", message)
        return checked.state


def _without_secret(problem: str, secret_settings: list[str]) -> str:
    """A validator message about a secret setting says what is wrong, never the value."""
    for name in secret_settings:
        if problem.endswith(f"in config[{name!r}]"):
            wanted = _WANTED_TYPE.search(problem)
            types = " or ".join(re.findall(r"'([^']*)'", wanted.group(1))) if wanted else ""
            must = f" (it must be of type {types})" if types else ""
            return f"setting '{name}': invalid value{must}; the value is secret and not shown"
    return redaction.redact(problem)


def plan_partition(partition: Partition) -> PartitionPlan:
    """The kit's streams plan their own partitions; any other stream is fetched whole."""
    stream = partition.stream
    if isinstance(stream, PartitionedStream):
        return stream.plan_partition(partition.context, partition.hints)
    return WholePartitionPlan(stream, partition.context)


def _exit(code: int) -> None:
    """Leave now: flush what was written, but do not wait for workers stuck on a socket."""
    # Each on its own: a broken stdout (the target went away) must not keep the log unflushed.
    for flush in (sys.stdout.flush, sys.stderr.flush, logging.shutdown):
        with contextlib.suppress(Exception):
            flush()
    os._exit(code)

