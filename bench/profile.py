#!/usr/bin/env python3
"""Instructions per proxied request and per forward-auth answer: regression
numbers for the sidecar's hot paths.

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

The same is done for the forward-auth door: the binary with `forwardAuth`,
asked BENCH_PROFILE_REQUESTS times `GET /auth/verify` as ingress-nginx asks
(`X-Original-URL`, `X-Original-Method`, the session cookie), each answered
200 with the identity headers.

Writes bench/results/profile.json and bench/results/profile.md (the proxy),
and bench/results/forward-auth-profile.json and .md (the forward-auth door):
the total per request and the functions with the largest inclusive and
exclusive cost per request. The raw callgrind files stay in
bench/results/work/ for `callgrind_annotate`.

The number in each committed profile is its baseline: the run prints the change against it and exits 1 when a request
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
from dataclasses import dataclass
from pathlib import Path

import run
from processes import BenchError, wait_for_line

REQUESTS = int(os.environ.get("BENCH_PROFILE_REQUESTS", "2000"))
TOLERANCE = float(os.environ.get("BENCH_PROFILE_TOLERANCE", "0.03"))
TOP = 40
RESULTS = run.RESULTS
WORK = run.WORK
log = run.log


@dataclass(frozen=True)
class Door:
    """How the sidecar is run and asked: as a reverse proxy, or as a forward-auth service."""
    name: str
    # What the profile files are called in bench/results/.
    files: str
    # What one request is called in the report.
    unit: str

    def config_lines(self, stack: run.Stack) -> str:
        if self.name == "forward-auth":
            return "forwardAuth: {}\ntrustedProxies: [127.0.0.1]\n"
        return f"upstream: http://127.0.0.1:{stack.echo_port}\n"

    def sign_in_start(self, port: int) -> str:
        """Where a browser starts to sign in: the forward-auth service has no app to redirect from."""
        if self.name == "forward-auth":
            return f"http://127.0.0.1:{port}/auth/start?rd=%2Fbench"
        return f"http://127.0.0.1:{port}{run.BENCH_PATH}"

    def request(self, port: int, cookie: str) -> tuple[str, dict[str, str], bytes]:
        """The path asked, its headers, and the body of its answer."""
        if self.name == "forward-auth":
            return "/auth/verify", {
                "Cookie": cookie,
                "X-Original-URL": f"http://127.0.0.1:{port}{run.BENCH_PATH}",
                "X-Original-Method": "GET",
            }, b""
        return run.BENCH_PATH, {"Cookie": cookie}, b"ok"


PROXY = Door("proxy", "profile", "proxied request")
FORWARD_AUTH = Door("forward-auth", "forward-auth-profile", "forward-auth answer")


def serve_requests(door: Door, port: int, cookie: str, count: int) -> None:
    """`count` authenticated requests over one keep-alive connection, each answered 200."""
    path, headers, expected = door.request(port, cookie)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for index in range(count):
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or body != expected:
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


def profiled_run(stack: run.Stack, files: dict, door: Door, requests: int, port: int) -> Path:
    """The sidecar under callgrind, one login, `requests` requests through `door`, SIGTERM."""
    out = WORK / f"callgrind.{door.name}.{requests}.out"
    admin = run.free_port()
    config = run.write_sidecar_config(stack, f"profile-{door.name}-{requests}", port, admin, files,
                                      door=door.config_lines(stack))
    argv = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        "--dump-instr=no", "--collect-jumps=no",
        *run.sidecar_argv(config), "--drain-delay-seconds", "0",
        # One thread: the request's own path, without the second thread's
        # searching and parking, which callgrind would count too.
        "--worker-threads", "1",
    ]
    proc = run.spawn(f"sidecar-callgrind-{door.name}-{requests}", argv)
    try:
        run.wait_until_ok(f"http://127.0.0.1:{admin}/healthz", proc, 120, interval=0.1)
        run.wait_until_ok(f"http://127.0.0.1:{admin}/readyz", proc, 120, interval=0.1,
                          accept=lambda body: b'"status":"ok"' in body)
        browser, _ = run.log_in(door.sign_in_start(port), "/auth/oidc")
        cookie = browser.cookie_header(lambda name: name == "portcullis_session")
        if not cookie:
            raise BenchError("the login gave no session cookie")
        log(f"{requests} requests to the {door.name} door under callgrind")
        serve_requests(door, port, cookie, requests)
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


def markdown(door: Door, report: dict) -> str:
    asked = ("`GET /auth/verify` with ingress-nginx's `X-Original-URL` and `X-Original-Method`"
             if door is FORWARD_AUTH else f"`GET {run.BENCH_PATH}`")
    lines = [
        f"# Sidecar instructions per {door.unit} (callgrind)",
        "",
        f"{report['date']}, `{report['version']}`; {REQUESTS} requests ({asked}, "
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


def recorded_per_request(door: Door) -> float | None:
    """The instructions per request of `door`'s committed profile (of the file
    when git cannot say), so that a second run is still compared with what
    was committed and not with the first run's numbers."""
    name = f"{door.files}.json"
    committed = subprocess.run(["git", "show", f"HEAD:bench/results/{name}"],
                               cwd=RESULTS.parent.parent, capture_output=True, text=True, timeout=30)
    try:
        text = committed.stdout if committed.returncode == 0 else (RESULTS / name).read_text()
        return float(json.loads(text)["instructions_per_request"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def within_baseline(door: Door, baseline: float | None, measured: float) -> bool:
    """Logs the change against the recorded number; False when it grew past the tolerance."""
    if baseline is None or baseline <= 0:
        log(f"{measured:,.0f} instructions per {door.unit} (no recorded profile to compare with)")
        return True
    change = measured / baseline - 1
    log(f"{measured:,.0f} instructions per {door.unit}, recorded {baseline:,.0f}: {change:+.1%}")
    if change > TOLERANCE:
        log(f"SLOWER than the recorded profile by more than {TOLERANCE:.0%}: see `git diff "
            f"{RESULTS / (door.files + '.md')}`; commit the new profile if the cost is meant")
        return False
    return True


def report_of(door: Door, outs: dict[int, Path], version: str) -> dict:
    """The per-request costs of `door` from its two callgrind files."""
    base_total, base_incl = costs(outs[0], inclusive=True)
    loaded_total, loaded_incl = costs(outs[REQUESTS], inclusive=True)
    _, base_excl = costs(outs[0], inclusive=False)
    _, loaded_excl = costs(outs[REQUESTS], inclusive=False)
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "version": version,
        "door": door.name,
        "requests": REQUESTS,
        "instructions_total": {"none": base_total, "loaded": loaded_total},
        "instructions_per_request": (loaded_total - base_total) / REQUESTS,
        "inclusive": per_request(base_incl, loaded_incl)[:200],
        "exclusive": per_request(base_excl, loaded_excl)[:200],
    }


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        log("valgrind is not installed (Debian: apt-get install valgrind)")
        return 1
    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.iterdir():
        if old.is_file():
            old.unlink()
    doors = [PROXY, FORWARD_AUTH]
    stack = run.Stack()
    outs: dict[str, dict[int, Path]] = {}
    try:
        for binary in ("portcullis-sidecar", "echo-upstream"):
            if not (run.BIN_DIR / binary).is_file():
                raise BenchError(f"{run.BIN_DIR / binary} is missing: build the release binaries first")
        ports = {door.name: {0: run.free_port(), REQUESTS: run.free_port()} for door in doors}
        start_idp(stack, [port for by_count in ports.values() for port in by_count.values()])
        run.start_echo(stack)
        files = run.sidecar_files()
        for door in doors:
            outs[door.name] = {
                requests: profiled_run(stack, files, door, requests, port)
                for requests, port in ports[door.name].items()
            }
    except BenchError as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        run.stop_all()
    version = subprocess.run([str(run.BIN_DIR / "portcullis-sidecar"), "--version"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    RESULTS.mkdir(parents=True, exist_ok=True)
    within = True
    for door in doors:
        report = report_of(door, outs[door.name], version)
        baseline = recorded_per_request(door)
        (RESULTS / f"{door.files}.json").write_text(json.dumps(report, indent=2) + "\n")
        text = markdown(door, report)
        (RESULTS / f"{door.files}.md").write_text(text)
        print(text)
        log(f"wrote {RESULTS / door.files}.json and .md")
        within = within_baseline(door, baseline, report["instructions_per_request"]) and within
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
