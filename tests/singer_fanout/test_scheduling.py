"""The scheduler spreads workers over rate-limit scopes (no HTTP: the picking rule alone)."""

from __future__ import annotations

from collections import Counter, deque

from singer_fanout.engine import Partition, pick_spread


class FakeStream:
    name = "metrics"

    def rate_limit_scope(self, context):
        return f"org:{context['account_id']}"


def queue_of(*accounts: str) -> deque[Partition]:
    return deque(Partition(FakeStream(), {"account_id": a, "service_id": f"s{n}"}, 2)  # type: ignore[arg-type]
                 for n, a in enumerate(accounts))


def test_prefers_a_scope_with_nothing_in_flight():
    queue = queue_of("a", "a", "b", "c")
    busy = Counter({"org:a": 3, "org:b": 1})
    picked = pick_spread(queue, busy)
    assert picked.context["account_id"] == "c"
    assert [j.context["account_id"] for j in queue] == ["a", "a", "b"]


def test_oldest_first_among_equals():
    queue = queue_of("a", "b", "c")
    picked = pick_spread(queue, Counter({"org:a": 1, "org:b": 1, "org:c": 1}))
    assert picked.context["service_id"] == "s0"


def test_spreads_workers_evenly_over_orgs():
    # Six orgs with four partitions each, queued org by org; twelve workers start.
    queue = queue_of(*[org for org in "abcdef" for _ in range(4)])
    busy: Counter[str] = Counter()
    for _ in range(12):
        busy[pick_spread(queue, busy).scope] += 1
    assert set(busy.values()) == {2}
