"""Reading what HTTP headers say: `Link` relations (RFC 8288) and the listings that follow
them, and `Retry-After` (RFC 9110), which a vendor may send as seconds or as an HTTP-date."""

from __future__ import annotations

import email.utils
import itertools
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from singer_fanout.errors import PartitionError

if TYPE_CHECKING:
    from singer_fanout.answer import Reply
    from singer_fanout.http_client import HttpClient

_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)')
_PARAM = re.compile(r';\s*([^=\s;]+)\s*=\s*"?([^";]*)"?')


def link_relations(header: str | None, base_url: str) -> dict[str, str]:
    """rel -> absolute URL for every link of a `Link` header (relative ones resolved)."""
    found: dict[str, str] = {}
    for match in _LINK.finditer(header or ""):
        url, params = match.groups()
        for name, value in _PARAM.findall(params):
            if name.lower() == "rel":
                for rel in value.split():
                    found.setdefault(rel.lower(), urljoin(base_url + "/", url))
    return found


def same_origin(url: str, base_url: str) -> bool:
    """Scheme, host and port agree (default ports made explicit)."""
    def origin(text: str) -> tuple[str, str, int | None]:
        parts = urlsplit(text)
        default = {"http": 80, "https": 443}.get(parts.scheme)
        return parts.scheme, (parts.hostname or "").lower(), parts.port or default

    return origin(url) == origin(base_url)


def retry_after_s(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP-date."""
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now())


# No real listing comes near this many pages; past it the links are going round in circles.
MAX_LINK_PAGES = 10_000


def link_pages(
    client: HttpClient, path: str, params: Mapping[str, Any], *, scope: str, what: str,
    max_pages: int = MAX_LINK_PAGES,
) -> Iterator[Reply]:
    """Every page of a listing whose next page is `Link: <url>; rel="next"`, in order.

    A next link to another host is refused (the credential would go with it), a link seen
    before or more than `max_pages` pages end the partition: the listing would never end.
    """
    reply = client.request("GET", path, params=params, scope=scope, what=f"{what} page 1")
    seen: set[str] = set()
    for number in itertools.count(2):
        yield reply
        following = link_relations(reply.headers.get("Link"), client.base_url).get("next")
        if following is None:
            return
        page_what = f"{what} page {number}"
        if following in seen or number > max_pages:
            raise PartitionError(page_what, "the next links go round in circles; giving up")
        seen.add(following)
        reply = client.request("GET", following, scope=scope, what=page_what)
