"""moto's standalone S3 API server on a free loopback port, as a real HTTP server.

Auth is enforced (moto's IAM mode): the first few requests set up an IAM user with
full access and its key pair; from then on every request must be signed with a key
moto knows, so wrong credentials are refused as S3 refuses them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pyarrow.fs as pafs

REGION = "us-east-1"
_SETUP_REQUESTS = 3  # create_user, create_access_key, put_user_policy
_ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, even by SIGKILL or a timeout, so no
    server outlives its session (Linux; elsewhere the fixture's own teardown stops it)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    # A TCP connect, not an HTTP request: requests before the IAM set-up would use up
    # the unauthenticated ones.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError("moto_server did not start listening")


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    buckets: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS environment a loader on this machine would have."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
        )

    def new_bucket(self) -> str:
        name = f"lake-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def filesystem(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            access_key=self.access_key, secret_key=self.secret_key,
            endpoint_override=self.endpoint, region=REGION,
        )

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under the prefix (what a listing, hence a glob, can see)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix,
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def open_uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads started and never completed."""
        uploads = self.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted(upload["Key"] for upload in uploads)


@contextlib.contextmanager
def run_s3_server(log_path: Path, *, enforce_auth: bool = True) -> Iterator[S3Server]:
    """moto_server on a free loopback port; with `enforce_auth`, only the IAM key works."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    if enforce_auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(_SETUP_REQUESTS)
    server_bin = Path(sys.executable).parent / "moto_server"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(server_bin), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl, no locks taken
        )
        try:
            _wait_listening(port, process)
            iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                               aws_access_key_id="setup", aws_secret_access_key="setup")  # noqa: S106
            iam.create_user(UserName="loader")
            key = iam.create_access_key(UserName="loader")["AccessKey"]
            iam.put_user_policy(UserName="loader", PolicyName="all", PolicyDocument=_ALLOW_ALL)
            yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
