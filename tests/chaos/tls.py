"""A TLS front for the sandbox on loopback, with a throwaway CA made by the `openssl` CLI.

The sandbox speaks plain HTTP; this proxy terminates TLS with a certificate for 127.0.0.1
signed by a CA that exists only in a temporary folder, and pipes the bytes to the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the bundle a client must be given to trust the proxy
    cert: Path
    key: Path


def make_certificates(folder: Path) -> Certificates:
    ca_key, ca, key, csr, cert = (folder / name for name in
                                  ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    extensions = folder / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                          "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    commands = [
        ["openssl", "req", "-x509", *EC_KEY, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=singer_fanout chaos test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *EC_KEY, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extensions],
    ]
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True,
                       cwd=folder)
    return Certificates(ca, cert, key)


class TlsProxy:
    """Counts the TLS sessions it accepted: a refused handshake never becomes one."""

    def __init__(self, target_url: str, certificates: Certificates) -> None:
        target = urlsplit(target_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 80)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(certificates.cert, certificates.key)
        self.sessions = 0
        self.url = ""

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    @contextlib.contextmanager
    def running(self) -> Iterator[TlsProxy]:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda _loop, _context: None)  # refused handshakes
        server = loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", 0, ssl=self._context))
        self.url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            server.close()
