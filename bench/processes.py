"""The processes a benchmark starts: each writes to its own log in a work
directory, is stopped by its own id (SIGTERM, then SIGKILL), and is never left
running, also when the benchmark fails. Shared by `bench/run.py` and
`bench/operator/run.py`."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class BenchError(Exception):
    """A step of the benchmark failed; the message says which."""


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    started_at: float  # time.monotonic()


class Processes:
    """Every process one benchmark run started, in the order it started them."""

    def __init__(self, work: Path, cwd: Path, log: Callable[[str], None], stop_timeout: float) -> None:
        self.work, self.cwd, self.log, self.stop_timeout = work, cwd, log, stop_timeout
        self.running: list[Proc] = []

    def spawn(self, name: str, argv: list[str], *, env: dict | None = None, stdout_pipe: bool = False) -> Proc:
        log_path = self.work / f"{name}.log"
        with open(log_path, "ab") as log_file:
            started = time.monotonic()
            popen = subprocess.Popen(
                argv, cwd=self.cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout_pipe else log_file, stderr=log_file,
            )
        proc = Proc(name, popen, log_path, started)
        self.running.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        """SIGTERM, then SIGKILL after the stop timeout; only this one process, by its id."""
        if proc.popen.poll() is None:
            proc.popen.terminate()
            try:
                proc.popen.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        if proc.popen.stdout:
            proc.popen.stdout.close()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.running)):
            try:
                self.stop(proc)
            except Exception as error:  # keep stopping the others
                self.log(f"could not stop {proc.name} (pid {proc.popen.pid}): {error}")


def wait_for_line(proc: Proc, prefix: str, timeout: float) -> str:
    """Reads the process's stdout until a line starts with `prefix`; then drains the rest to its log."""
    assert proc.popen.stdout is not None
    fd = proc.popen.stdout.fileno()
    deadline = time.monotonic() + timeout
    buffer = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                if line.startswith(prefix):
                    threading.Thread(target=drain, args=(proc,), daemon=True).start()
                    return line[len(prefix):].strip()
        elif proc.popen.poll() is not None:
            break
    raise BenchError(
        f"{proc.name} did not print {prefix!r} within {timeout}s (exit {proc.popen.poll()}); "
        f"see {proc.log_path}: {tail(proc.log_path)}"
    )


def drain(proc: Proc) -> None:
    """Copies what the process still prints to its log."""
    with open(proc.log_path, "ab") as out:
        try:
            for chunk in iter(lambda: proc.popen.stdout.read1(4096), b""):
                out.write(chunk)
        except (ValueError, OSError):
            pass


def tail(path: Path, lines: int = 8, separator: str = " | ") -> str:
    try:
        return separator.join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
