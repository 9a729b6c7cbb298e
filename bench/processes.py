"""What the benches share to run the app's processes: a free port, waiting for /healthz,
a CPU budget (a cgroup) per process group."""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Returns once GET /healthz on `port` answers 200; raises if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with code {proc.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


# --- a CPU budget per process group ----------------------------------------------------------

CGROUP = Path("/sys/fs/cgroup")
PERIOD_US = 100_000
SHARES_V1, WEIGHT_V2 = 16 * 1024, 10_000  # a capped group's weight: 16 busy processes' (v1)


class CpuBudget:
    """A cgroup holding a process group: `cpus` CPUs at most (a machine of that size), and
    the CPU it used. `cpus` 0 caps nothing but still counts.

    A capped or `favoured` group weighs more than the processes outside it (`cpu.shares`,
    `cpu.weight`): it gets its CPU before them when the machine is busy, as a machine of
    its own would, and never more than its cap (the quota). Any other group has the
    ordinary weight, whatever the group of the process that started it.

    cgroup v2 (`cpu.max`, `cpu.weight`, `cpu.stat`'s usage_usec) when
    /sys/fs/cgroup/cgroup.controllers exists; else v1: the cpu controller's CFS quota
    (`cpu.cfs_quota_us` per `cpu.cfs_period_us`), `cpu.shares`, and cpuacct's
    `cpuacct.usage` (the same hierarchy or its own). When the cgroup cannot be made,
    `refused` says why and nothing is capped or counted. Put the first process in with
    `add(pid)` right after Popen: its children inherit it.
    """

    def __init__(self, name: str, cpus: float, favoured: bool = False) -> None:
        self.name, self.cpus = name, cpus
        self.favoured = favoured or cpus > 0
        self.dirs: list[Path] = []  # the cgroups made, removed at the end
        self.targets: list[Path] = []  # every process is written into each
        self.usage_file: Path | None = None
        self.stat_file: Path | None = None
        self.refused: str | None = None
        self.mechanism = "none"
        atexit.register(self.remove)
        try:
            if (CGROUP / "cgroup.controllers").exists():
                self._v2()
            else:
                self._v1()
        except OSError as error:
            self.refused = f"{error.strerror or error} ({error.filename or self.name})"
            self.remove()
            self.dirs, self.targets, self.usage_file, self.stat_file = [], [], None, None
            self.mechanism = "none"

    @property
    def quota_us(self) -> int:
        return max(1000, round(self.cpus * PERIOD_US))  # the kernel's minimum is 1 ms

    def _make(self, path: Path) -> Path:
        path.mkdir()
        self.dirs.append(path)
        self.targets.append(path)
        return path

    def _v1(self) -> None:
        if self.favoured:
            cpu = self._make(CGROUP / "cpu" / self.name)
            if self.cpus > 0:
                (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (cpu / "cpu.cfs_quota_us").write_text(str(self.quota_us))
            (cpu / "cpu.shares").write_text(str(SHARES_V1))
            self.stat_file = cpu / "cpu.stat"
            if (cpu / "cpuacct.usage").exists():  # cpu,cpuacct mounted together
                self.usage_file = cpu / "cpuacct.usage"
        else:
            self.targets.append(CGROUP / "cpu")  # out of a favoured parent's group
        if self.usage_file is None:
            self.usage_file = self._make(CGROUP / "cpuacct" / self.name) / "cpuacct.usage"
        if self.cpus > 0:
            self.mechanism = (
                f"cgroup v1 cpu.cfs_quota_us {self.quota_us} per cpu.cfs_period_us "
                f"{PERIOD_US}, cpu.shares {SHARES_V1}"
            )
        else:
            self.mechanism = "no cap (cgroup v1 cpuacct counts)"

    def _v2(self) -> None:
        if self.favoured:
            with contextlib.suppress(OSError):  # may be on already, or refused: cpu.max says
                (CGROUP / "cgroup.subtree_control").write_text("+cpu")
        group = self._make(CGROUP / self.name)  # beside any other: no parent's weight
        self.usage_file = self.stat_file = group / "cpu.stat"
        if self.cpus > 0:
            (group / "cpu.max").write_text(f"{self.quota_us} {PERIOD_US}")  # ENOENT: no cpu
        if self.favoured:
            (group / "cpu.weight").write_text(str(WEIGHT_V2))
        if self.cpus > 0:
            self.mechanism = (
                f"cgroup v2 cpu.max {self.quota_us} {PERIOD_US}, cpu.weight {WEIGHT_V2}"
            )
        else:
            self.mechanism = "no cap (cgroup v2 cpu.stat counts)"

    def add(self, pid: int) -> None:
        """Puts the process (and its children to come) in the cgroup."""
        for path in self.targets:
            try:
                (path / "cgroup.procs").write_text(str(pid))
            except ProcessLookupError:
                return  # already gone
            except OSError as error:
                self.refused = f"{error.strerror} writing {path / 'cgroup.procs'}"

    def add_session(self, sid: int) -> None:
        """Puts every process of the session in: those forked before `add` reached the leader."""
        for pid in session_pids(sid):
            self.add(pid)

    def used(self) -> tuple[float, int, int] | None:
        """(CPU seconds used, CFS periods, periods throttled), None when not counted."""
        if self.usage_file is None or self.refused:
            return None
        try:
            if self.usage_file.name == "cpuacct.usage":
                seconds = int(self.usage_file.read_text()) / 1e9
            else:
                seconds = read_stat(self.usage_file).get("usage_usec", 0) / 1e6
            stat = read_stat(self.stat_file) if self.stat_file else {}
        except OSError:
            return None
        return seconds, stat.get("nr_periods", 0), stat.get("nr_throttled", 0)

    def remove(self) -> None:
        """Removes the cgroup once its processes are gone (a SIGKILLed group's may linger)."""
        for path in reversed(self.dirs):
            with contextlib.suppress(OSError):  # this process itself goes back to the parent
                if str(os.getpid()) in (path / "cgroup.procs").read_text().split():
                    (path.parent / "cgroup.procs").write_text(str(os.getpid()))
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY: a process still in it
                    time.sleep(0.1)
        self.dirs = [path for path in self.dirs if path.exists()]


def read_stat(path: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in path.read_text().splitlines())}


def session_pids(sid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # after the name: state, ppid, pgrp, session
                pids.append(int(stat.parent.name))
    return pids


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy since boot (/proc/stat: all but idle, iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")
