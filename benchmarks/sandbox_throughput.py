"""How fast is the sandbox? Throughput and concurrency of `python -m vendor_sandbox serve`.

    python benchmarks/sandbox_throughput.py [--seconds 3] [--connections 8]

1. throughput: several keep-alive connections send small requests back to back, no latency
   (target >= 2,000 requests/s on a 2-core machine);
2. concurrency: 256 connections each send one request to a route with 200 ms latency, a few
   waves; with asyncio a wave takes about one latency, not 256 of them.

The server runs in its own process, started exactly like users start it, and the client is
a raw asyncio keep-alive client so that the client's own overhead stays small.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's fake default token
TODAY = "2026-11-20"
THROUGHPUT_TARGET = 2_000.0


@contextmanager
def sandbox(*flags: str) -> Iterator[tuple[str, int]]:
    """Start `python -m vendor_sandbox serve` and yield its (host, port)."""
    command = [sys.executable, "-m", "vendor_sandbox", "serve", "--vendor", "x", "--seed", "1"]
    command += ["--today", TODAY, "--rate-limit", "1000000000", *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = urlsplit(process.stdout.readline().strip())
        assert url.hostname, f"unexpected first line from the sandbox: {url}"
        assert url.port, f"unexpected first line from the sandbox: {url}"
        yield url.hostname, url.port
    finally:
        process.terminate()
        process.wait(timeout=10)


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def get(self, path: str) -> tuple[int, bytes]:
        request = f"GET {path} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return int(lines[0].split(" ")[1]), body

    def close(self) -> None:
        self.writer.close()


async def throughput(host: str, port: int, path: str, seconds: float, connections: int) -> float:
    conns = [await Connection.open(host, port) for _ in range(connections)]
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker(conn: Connection) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            status, _ = await conn.get(path)
            assert status == 200, status
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        conn.close()
    return done / elapsed


async def concurrency(host: str, port: int, connections: int, waves: int) -> dict[str, float]:
    conns = await asyncio.gather(*(Connection.open(host, port) for _ in range(connections)))
    in_flight = peak = 0
    wave_times = []

    async def one(conn: Connection) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        status, _ = await conn.get("/v1/accounts?per_page=1")
        in_flight -= 1
        assert status == 200, status

    for _ in range(waves):
        started = time.perf_counter()
        await asyncio.gather(*(one(conn) for conn in conns))
        wave_times.append(time.perf_counter() - started)
    stats_conn = await Connection.open(host, port)
    _, body = await stats_conn.get("/_sandbox/stats")
    stats_conn.close()
    for conn in conns:
        conn.close()
    return {
        "client_peak": peak,
        "server_peak": json.loads(body)["max_in_flight"],
        "wall": sum(wave_times),
        "worst_wave": max(wave_times),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrent", type=int, default=256)
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []
    with sandbox() as (host, port):
        small = asyncio.run(
            throughput(host, port, "/v1/accounts?per_page=1", args.seconds, args.connections)
        )
        ok = "ok" if small >= THROUGHPUT_TARGET else "BELOW TARGET"
        rows.append(
            (
                "small requests/s (GET /v1/accounts)",
                f"{small:,.0f}",
                f">= {THROUGHPUT_TARGET:,.0f} {ok}",
            )
        )
        metrics = (
            "/v1/accounts/{a}/services/{s}/metrics/daily?start_date=2026-10-20&end_date=2026-11-19"
        )
        path = asyncio.run(_first_metrics_path(host, port, metrics))
        rate = asyncio.run(throughput(host, port, path, args.seconds, args.connections))
        rows.append(("31-day metrics requests/s", f"{rate:,.0f}", "informational"))
    with sandbox("--latency-ms", str(args.latency_ms)) as (host, port):
        result = asyncio.run(concurrency(host, port, args.concurrent, args.waves))
    ideal = args.waves * args.latency_ms / 1000
    rows.append(
        (
            "max in flight (client / server)",
            f"{result['client_peak']:.0f} / {result['server_peak']:.0f}",
            f"of {args.concurrent}",
        )
    )
    rows.append(
        (
            f"wall time, {args.waves} waves x {args.concurrent}",
            f"{result['wall']:.2f} s",
            f"ideal {ideal:.2f} s",
        )
    )
    rows.append(
        ("worst wave", f"{result['worst_wave']:.3f} s", f"latency {args.latency_ms / 1000:.3f} s")
    )

    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)}  {'value':>12}  target")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>12}  {note}")
    return 0


async def _first_metrics_path(host: str, port: int, template: str) -> str:
    conn = await Connection.open(host, port)
    _, body = await conn.get("/v1/accounts?per_page=1")
    account = json.loads(body)["data"][0]["id"]
    _, body = await conn.get(f"/v1/accounts/{account}/services?per_page=1")
    service = json.loads(body)["data"][0]["id"]
    conn.close()
    return template.format(a=account, s=service)


if __name__ == "__main__":
    sys.exit(main())
