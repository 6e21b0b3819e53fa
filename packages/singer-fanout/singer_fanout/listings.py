"""After the fan-out: what the vendor's listings did not contain.

- `account_ids` names an account the vendor does not list: each such id fails as its own
  partition of the root stream ("not listed by the vendor"), so the run exits 1 instead of
  finishing with nothing for it and exit 0.
- The state holds bookmarks of partitions the vendor no longer lists (a deleted account, a
  service gone from its account's listing): they are counted in the summary and kept, or
  dropped when `prune_unlisted_state` is set. A bookmark counts only when the listing that
  would have contained it was read whole in this run; after a failed listing nothing is
  known, and an account outside `account_ids` or this shard is out of scope, not gone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk.streams import Stream

from singer_fanout.settings import RunSettings
from singer_fanout.state import PartitionStateBook, partition_key

ACCOUNT_KEY = "account_id"


class AccountNotListed(Exception):
    """An id in `account_ids` that the vendor's account listing does not contain."""

    def __init__(self, account_id: str) -> None:
        super().__init__(
            f"account {account_id} is in account_ids but not listed by the vendor (the "
            "credential cannot see it, or it does not exist)"
        )


@dataclass(frozen=True)
class ListingsSeen:
    """What the run's listings produced, as the engine recorded it."""

    scheduled: Collection[tuple[Any, ...]]  # (stream, *partition_key) of every planned one
    read_whole: Collection[tuple[Any, ...]]  # listings (with children) that completed

    root_stream: str
    listed_accounts: Collection[str]  # every account id the root listing returned


def accounts_not_listed(settings: RunSettings, seen: ListingsSeen) -> list[str]:
    """`account_ids` (of this shard) missing from a root listing that was read whole."""
    if settings.account_ids is None or (seen.root_stream,) not in seen.read_whole:
        return []
    return sorted(
        account for account in settings.account_ids
        if (settings.shard is None or settings.shard.owns(account))
        and account not in seen.listed_accounts
    )


def unlisted_bookmarks(
    book: PartitionStateBook, streams: Mapping[str, Stream], settings: RunSettings,
    seen: ListingsSeen,
) -> dict[str, list[Mapping[str, Any]]]:
    """Per stream, the contexts of state partitions the vendor's listings no longer hold."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for name, stream in streams.items():
        parent = next((s for s in streams.values() if type(s) is stream.parent_stream_type),
                      None)
        if parent is None or not stream.replication_key:
            continue
        parent_keys: tuple[str, ...] = getattr(parent, "context_keys", ())
        for context in book.contexts(name):
            if _identity(name, context) in seen.scheduled:
                continue
            if _gone(context, parent.name, parent_keys, settings, seen):
                found.setdefault(name, []).append(context)
    return found


def _gone(context: Mapping[str, Any], parent: str, parent_keys: tuple[str, ...],
          settings: RunSettings, seen: ListingsSeen) -> bool:
    if not set(parent_keys) <= set(context):
        return False
    parent_identity = _identity(parent, {key: context[key] for key in parent_keys})
    if parent_identity in seen.read_whole:
        return True  # its parent's listing was read and did not contain it
    if parent_identity in seen.scheduled:
        return False  # the parent's listing failed: nothing is known
    account = context.get(ACCOUNT_KEY)
    return (
        account is not None
        and (seen.root_stream,) in seen.read_whole
        and settings.wants_account(str(account))
        and account not in seen.listed_accounts
    )


def _identity(stream: str, context: Mapping[str, Any]) -> tuple[Any, ...]:
    return (stream, *partition_key(context))
