#!/usr/bin/env python3
"""Instructions per proxied request: a regression number for the sidecar's hot path.

Runs the release sidecar under `valgrind --tool=callgrind` twice, in front of
the echo app and behind a real login at the test identity provider: once
serving no proxied request, once serving BENCH_PROFILE_REQUESTS of them (`GET
/bench` with the session cookie over one keep-alive connection). The
difference of the two instruction counts, divided by the number of requests,
is what one request costs in the sidecar's own user-space code (start-up,
login and shutdown cancel out), on one runtime thread (`--worker-threads 1`). Instruction counts do not depend on how busy
the machine is, unlike requests/s, so a change that makes the hot path
slower shows up as a number. Kernel work (socket reads and writes, epoll) is
not counted by callgrind.

Writes bench/results/profile.json and bench/results/profile.md: the total per
request and the functions with the largest inclusive and exclusive cost per
request. The raw callgrind files stay in bench/results/work/ for
`callgrind_annotate`.

The number in the committed bench/results/profile.json is the baseline: the run prints the change against it and exits 1 when a request
costs more than BENCH_PROFILE_TOLERANCE (a fraction, default 0.03) above it,
after writing the new profile, so `git diff` shows where the cost moved. A
slower hot path that is meant is accepted by committing the new profile.

Environment:
  BENCH_PROFILE_REQUESTS  proxied requests of the measured run (default 2000)
  BENCH_PROFILE_TOLERANCE how much more than the recorded number fails the run (default 0.03)
  BENCH_BIN_DIR           where portcullis-sidecar and echo-upstream are (default target/release)
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import run
from processes import BenchError, wait_for_line

REQUESTS = int(os.environ.get("BENCH_PROFILE_REQUESTS", "2000"))
TOLERANCE = float(os.environ.get("BENCH_PROFILE_TOLERANCE", "0.03"))
TOP = 40
RESULTS = run.RESULTS
WORK = run.WORK
log = run.log


def serve_requests(port: int, cookie: str, count: int) -> None:
    """`count` authenticated GETs over one keep-alive connection, each answered 200 `ok`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for index in range(count):
            conn.request("GET", run.BENCH_PATH, headers={"Cookie": cookie})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or body != b"ok":
                raise BenchError(f"request {index} answered {response.status} {body[:200]!r}")
    finally:
        conn.close()


def start_idp(stack: run.Stack, ports: list[int]) -> None:
    """The test identity provider, with the sidecar's client allowed back to each of `ports`."""
    clients = [{
        "client_id": run.SIDECAR_CLIENT[0],
        "client_secret": run.SIDECAR_CLIENT[1],
        "redirect_uris": [f"http://127.0.0.1:{port}/auth/oidc" for port in ports],
    }]
    proc = run.spawn("idp", ["node", "tests/idp/idp.mjs"],
                     env={"IDP_PORT": "0", "IDP_CLIENTS": json.dumps(clients)}, stdout_pipe=True)
    stack.issuer = wait_for_line(proc, "IDP_READY ", 30)


def profiled_run(stack: run.Stack, files: dict, requests: int, port: int) -> Path:
    """The sidecar under callgrind, one login, `requests` proxied requests, SIGTERM."""
    out = WORK / f"callgrind.{requests}.out"
    admin = run.free_port()
    config = run.write_sidecar_config(stack, f"profile-{requests}", port, admin, files)
    argv = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        "--dump-instr=no", "--collect-jumps=no",
        *run.sidecar_argv(config), "--drain-delay-seconds", "0",
        # One thread: the request's own path, without the second thread's
        # searching and parking, which callgrind would count too.
        "--worker-threads", "1",
    ]
    proc = run.spawn(f"sidecar-callgrind-{requests}", argv)
    try:
        run.wait_until_ok(f"http://127.0.0.1:{admin}/healthz", proc, 120, interval=0.1)
        run.wait_until_ok(f"http://127.0.0.1:{admin}/readyz", proc, 120, interval=0.1,
                          accept=lambda body: b'"status":"ok"' in body)
        browser, _ = run.log_in(f"http://127.0.0.1:{port}{run.BENCH_PATH}", "/auth/oidc")
        cookie = browser.cookie_header(lambda name: name == "portcullis_session")
        if not cookie:
            raise BenchError("the login gave no session cookie")
        log(f"{requests} requests through the sidecar under callgrind")
        serve_requests(port, cookie, requests)
        proc.popen.send_signal(signal.SIGTERM)
        proc.popen.wait(120)
    finally:
        run.stop(proc)
    if not out.is_file():
        raise BenchError(f"callgrind wrote no {out}: {run.tail(proc.log_path)}")
    return out


LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.+?)\s*$")


def costs(out: Path, inclusive: bool) -> tuple[int, dict[str, int]]:
    """Program total and per-function instruction counts from callgrind_annotate."""
    result = subprocess.run(
        ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100",
         "--auto=no", "--show-percs=no", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        raise BenchError(f"callgrind_annotate failed: {result.stderr.strip()[-500:]}")
    total, functions = 0, {}
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        count, name = int(match.group(1).replace(",", "")), match.group(2)
        if name.startswith("PROGRAM TOTALS"):
            total = count
        elif ":" in name:
            name = re.sub(r"\s+\[[^\]]*\]$", "", name.split(":", 1)[1])
            functions[name] = functions.get(name, 0) + count
    return total, functions


def per_request(base: dict[str, int], loaded: dict[str, int]) -> list[tuple[str, float]]:
    rows = [(name, (count - base.get(name, 0)) / REQUESTS) for name, count in loaded.items()]
    return sorted((row for row in rows if row[1] > 0), key=lambda row: -row[1])


def markdown(report: dict) -> str:
    lines = [
        "# Sidecar instructions per proxied request (callgrind)",
        "",
        f"{report['date']}, `{report['version']}`; {REQUESTS} requests (`GET {run.BENCH_PATH}`, "
        "session cookie from a real login, one keep-alive connection, one runtime thread) minus a run with none.",
        "",
        f"**{report['instructions_per_request']:,.0f} instructions per request** "
        "(user space of the sidecar only; kernel work is not counted).",
        "",
        f"## Inclusive (a function and everything it calls), top {TOP}",
        "",
        "| instructions/request | function |",
        "|---:|---|",
    ]
    lines += [f"| {count:,.0f} | `{name[:160]}` |" for name, count in report["inclusive"][:TOP]]
    lines += ["", f"## Exclusive (the function's own code), top {TOP}", "",
              "| instructions/request | function |", "|---:|---|"]
    lines += [f"| {count:,.0f} | `{name[:160]}` |" for name, count in report["exclusive"][:TOP]]
    return "\n".join(lines) + "\n"


def recorded_per_request() -> float | None:
    """The instructions per request of the committed profile (of the file when
    git cannot say), so that a second run is still compared with what was
    committed and not with the first run's numbers."""
    committed = subprocess.run(["git", "show", "HEAD:bench/results/profile.json"],
                               cwd=RESULTS.parent.parent, capture_output=True, text=True, timeout=30)
    try:
        text = committed.stdout if committed.returncode == 0 else (RESULTS / "profile.json").read_text()
        return float(json.loads(text)["instructions_per_request"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def within_baseline(baseline: float | None, measured: float) -> bool:
    """Logs the change against the recorded number; False when it grew past the tolerance."""
    if baseline is None or baseline <= 0:
        log(f"{measured:,.0f} instructions per request (no recorded profile to compare with)")
        return True
    change = measured / baseline - 1
    log(f"{measured:,.0f} instructions per request, recorded {baseline:,.0f}: {change:+.1%}")
    if change > TOLERANCE:
        log(f"SLOWER than the recorded profile by more than {TOLERANCE:.0%}: see `git diff "
            f"{RESULTS / 'profile.md'}`; commit the new profile if the cost is meant")
        return False
    return True


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        log("valgrind is not installed (Debian: apt-get install valgrind)")
        return 1
    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.iterdir():
        if old.is_file():
            old.unlink()
    stack = run.Stack()
    try:
        for binary in ("portcullis-sidecar", "echo-upstream"):
            if not (run.BIN_DIR / binary).is_file():
                raise BenchError(f"{run.BIN_DIR / binary} is missing: build the release binaries first")
        ports = {0: run.free_port(), REQUESTS: run.free_port()}
        start_idp(stack, list(ports.values()))
        run.start_echo(stack)
        files = run.sidecar_files()
        outs = {}
        for requests, port in ports.items():
            outs[requests] = profiled_run(stack, files, requests, port)
    except BenchError as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        run.stop_all()
    base_total, base_incl = costs(outs[0], inclusive=True)
    loaded_total, loaded_incl = costs(outs[REQUESTS], inclusive=True)
    _, base_excl = costs(outs[0], inclusive=False)
    _, loaded_excl = costs(outs[REQUESTS], inclusive=False)
    version = subprocess.run([str(run.BIN_DIR / "portcullis-sidecar"), "--version"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "version": version,
        "requests": REQUESTS,
        "instructions_total": {"none": base_total, "loaded": loaded_total},
        "instructions_per_request": (loaded_total - base_total) / REQUESTS,
        "inclusive": per_request(base_incl, loaded_incl)[:200],
        "exclusive": per_request(base_excl, loaded_excl)[:200],
    }
    baseline = recorded_per_request()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "profile.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / "profile.md").write_text(text)
    print(text)
    log(f"wrote {RESULTS / 'profile.json'} and {RESULTS / 'profile.md'}")
    return 0 if within_baseline(baseline, report["instructions_per_request"]) else 1


if __name__ == "__main__":
    sys.exit(main())
