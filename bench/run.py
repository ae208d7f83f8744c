#!/usr/bin/env python3
"""Benchmark: the echo app alone, behind nginx (a plain reverse proxy, no login),
behind the Portcullis sidecar (cookie-only, and with a session store on a local
redis-server), and behind oauth2-proxy.

Starts the test identity provider, the echo app, nginx, the sidecar and
oauth2-proxy on free 127.0.0.1 ports, logs in to each proxy through the real code flow, then
loads each target with wrk (same duration and connection counts) with an
authenticated GET that answers a 2-byte body. Also measures the time from
process start to ready and the CPU cost of one full login at each proxy.

Writes bench/results/latest.json and bench/results/latest.md and prints the table.
Python 3.11 standard library only. Loopback only; every wait has a timeout;
every process started here is stopped at the end.

Environment:
  BENCH_DURATION     seconds per wrk run (default 10)
  BENCH_CONNECTIONS  comma-separated connection counts (default 1,64,256)
  BENCH_LOGINS       logins per proxy for the login CPU cost (default 50)
  BENCH_STARTS       starts per proxy for the time to ready (default 5)
  BENCH_BIN_DIR      where portcullis-sidecar and echo-upstream are (default target/release)
  BENCH_TIMEOUT      hard limit for the whole run in seconds (default 300 + 12 x runs x duration)
  OAUTH2_PROXY       use this oauth2-proxy binary instead of running bench/install-oauth2-proxy.sh
  NGINX              use this nginx binary instead of running bench/install-nginx.sh
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import forward_auth
from processes import BenchError, Proc, Processes, free_port, tail, wait_for_line

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
WORK = RESULTS / "work"

DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,64,256").split(",") if c]
LOGINS = int(os.environ.get("BENCH_LOGINS", "50"))
STARTS = int(os.environ.get("BENCH_STARTS", "5"))
WRK_THREADS = 2
# Added latency is measured at a fixed request rate that every target sustains:
# at full load each target runs at a different rate, and its tail is queueing.
RATE = int(os.environ.get("BENCH_RATE", "4000"))
RATE_CONNECTIONS = 64
BIN_DIR = Path(os.environ.get("BENCH_BIN_DIR", ROOT / "target" / "release"))
TARGETS = ["direct", "nginx", "sidecar", "sidecar+store", "oauth2-proxy"]
PROXIES = ["nginx", "sidecar", "sidecar+store", "oauth2-proxy"]
# nginx's worker processes: as many as the sidecar's runtime threads on the bench machine.
NGINX_WORKERS = 2
TIMEOUT = int(
    os.environ.get("BENCH_TIMEOUT", str(
        300 + 12 * (len(CONNECTIONS) * len(TARGETS) + 2 * len(forward_auth.TARGETS)) * DURATION
    ))
)
BENCH_PATH = "/bench"
USER, PASSWORD = "alice", "alice-pw"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SIDECAR_CLIENT = ("portcullis", "portcullis-bench-secret")
OAUTH2_PROXY_CLIENT = ("oauth2-proxy", "oauth2-proxy-bench-secret")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# === processes ===

PROCESSES = Processes(WORK, ROOT, log, stop_timeout=5.0)
spawn, stop, stop_all = PROCESSES.spawn, PROCESSES.stop, PROCESSES.stop_all


def http_status(url: str, timeout: float = 0.5) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until_ok(url: str, proc: Proc, timeout: float, interval: float = 0.001,
                  accept=lambda body: True) -> float:
    """Polls `url` every `interval` until it answers 200; returns seconds since the process was spawned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = http_status(url)
            if status == 200 and accept(body):
                return time.monotonic() - proc.started_at
        except OSError:
            pass
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}: {tail(proc.log_path)}")
        time.sleep(interval)
    raise BenchError(f"{url} did not answer 200 within {timeout}s; {proc.name}: {tail(proc.log_path)}")


# === /proc readings ===

def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise BenchError(f"no VmHWM for pid {pid}")


def reset_hwm(pid: int) -> bool:
    """Resets the peak RSS to the current RSS (clear_refs 5), so each run gets its own peak."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> dict:
    """CPU used by the process so far: utime+stime (all threads, clock ticks) and the
    sum of its live threads' schedstat run time (nanoseconds, finer)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    run_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            run_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return {"ticks_s": ticks / CLK_TCK, "schedstat_s": run_ns / 1e9}


def time_wait_to(port: int) -> int | None:
    """Sockets in TIME-WAIT towards 127.0.0.1:`port`: connections to the app that were closed."""
    if not shutil.which("ss"):
        return None
    out = subprocess.run(
        ["ss", "-tanH", "state", "time-wait", f"( dport = :{port} )"],
        capture_output=True, text=True, timeout=10,
    )
    return len(out.stdout.splitlines()) if out.returncode == 0 else None


# === the services ===

@dataclass
class Stack:
    issuer: str = ""
    echo_port: int = 0
    sidecar_port: int = 0
    sidecar_admin_port: int = 0
    o2p_port: int = 0
    nginx_port: int = 0
    store_port: int = 0
    store_admin_port: int = 0
    redis_port: int = 0
    forward_port: int = 0
    forward_admin_port: int = 0
    procs: dict = field(default_factory=dict)
    oauth2_proxy_bin: str = ""
    nginx_bin: str = ""
    oha_bin: str = ""


def start_idp(stack: Stack) -> None:
    clients = [
        {
            "client_id": SIDECAR_CLIENT[0],
            "client_secret": SIDECAR_CLIENT[1],
            "redirect_uris": [f"http://127.0.0.1:{stack.sidecar_port}/auth/oidc"],
            "post_logout_redirect_uris": [f"http://127.0.0.1:{stack.sidecar_port}/"],
        },
        {
            "client_id": OAUTH2_PROXY_CLIENT[0],
            "client_secret": OAUTH2_PROXY_CLIENT[1],
            "redirect_uris": [f"http://127.0.0.1:{stack.o2p_port}/oauth2/callback"],
        },
    ]
    proc = spawn(
        "idp",
        ["node", "tests/idp/idp.mjs"],
        env={"IDP_PORT": "0", "IDP_CLIENTS": json.dumps(clients)},
        stdout_pipe=True,
    )
    stack.issuer = wait_for_line(proc, "IDP_READY ", 30)
    stack.procs["idp"] = proc


def start_echo(stack: Stack) -> None:
    proc = spawn("echo-upstream", [str(BIN_DIR / "echo-upstream"), "0"], stdout_pipe=True)
    address = wait_for_line(proc, "ECHO_READY ", 15)
    stack.echo_port = int(address.rsplit(":", 1)[1])
    stack.procs["direct"] = proc


def sidecar_files() -> dict:
    files = {}
    secret = WORK / "sidecar-client-secret"
    secret.write_text(SIDECAR_CLIENT[1])
    files["secret"] = secret
    keys = WORK / "sidecar-session-keys"
    result = subprocess.run(
        [str(BIN_DIR / "portcullis-sidecar"), "generate-key"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    keys.write_text(result.stdout)
    files["keys"] = keys
    return files


def write_sidecar_config(stack: Stack, name: str, port: int, admin_port: int, files: dict,
                         store: str = "", door: str = "") -> Path:
    """A sidecar's config; `door` replaces the proxy's `upstream` line (forward-auth)."""
    config = WORK / f"{name}.yaml"
    door = door or f"upstream: http://127.0.0.1:{stack.echo_port}\n"
    config.write_text(
        f"""listen: 127.0.0.1:{port}
adminListen: 127.0.0.1:{admin_port}
{door}publicUrl: http://127.0.0.1:{port}
oidc:
  wellKnownUrl: {stack.issuer}/.well-known/openid-configuration
  clientId: {SIDECAR_CLIENT[0]}
  clientSecretFile: {files['secret']}
  scopes: [openid, profile, email, groups]
  usernameClaim: preferred_username
  groupClaim: groups
session:
  keyFile: {files['keys']}
{store}"""
    )
    return config


def start_redis(stack: Stack) -> None:
    """Debian's redis-server (`make store-deps`), keeping nothing on disk."""
    if not shutil.which("redis-server"):
        raise BenchError("redis-server is not installed: run `make store-deps`")
    stack.redis_port = free_port()
    proc = spawn("redis", ["redis-server", "--port", str(stack.redis_port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", "--dir", str(WORK)])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", stack.redis_port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    stack.procs["redis"] = proc
                    return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"redis-server did not answer: {tail(proc.log_path)}")


def start_sidecar_with_store(stack: Stack, files: dict) -> None:
    """A second sidecar with the same keys (the same cookie opens it) and a session store."""
    store = f"""  store:
    redis:
      url: redis://127.0.0.1:{stack.redis_port}
      keyPrefix: 'bench:'
"""
    config = write_sidecar_config(stack, "sidecar-store", stack.store_port, stack.store_admin_port,
                                  files, store)
    proc = spawn("sidecar+store", sidecar_argv(config))
    loaded = lambda body: (json.loads(body).get("sessionStore") or {}).get("status") == "ok"
    wait_until_ok(f"http://127.0.0.1:{stack.store_admin_port}/readyz", proc, 15, interval=0.01,
                  accept=loaded)
    stack.procs["sidecar+store"] = proc


def sidecar_argv(config: Path) -> list[str]:
    return [str(BIN_DIR / "portcullis-sidecar"), "--config", str(config)]


def oauth2_proxy_argv(stack: Stack, port: int, cookie_secret: str) -> list[str]:
    return [
        stack.oauth2_proxy_bin,
        "--provider=oidc",
        f"--oidc-issuer-url={stack.issuer}",
        f"--client-id={OAUTH2_PROXY_CLIENT[0]}",
        f"--client-secret={OAUTH2_PROXY_CLIENT[1]}",
        f"--redirect-url=http://127.0.0.1:{port}/oauth2/callback",
        f"--upstream=http://127.0.0.1:{stack.echo_port}/",
        f"--cookie-secret={cookie_secret}",
        "--cookie-secure=false",
        "--email-domain=*",
        f"--http-address=127.0.0.1:{port}",
        "--skip-provider-button",
        "--code-challenge-method=S256",
        "--scope=openid profile email groups",
        # The sidecar writes no line per proxied request; neither does oauth2-proxy here.
        "--request-logging=false",
    ]


def start_sidecar(stack: Stack, files: dict) -> None:
    config = write_sidecar_config(stack, "sidecar", stack.sidecar_port, stack.sidecar_admin_port, files)
    check = subprocess.run(
        [str(BIN_DIR / "portcullis-sidecar"), "check-config", str(config)],
        capture_output=True, text=True, timeout=30,
    )
    if check.returncode != 0:
        raise BenchError(f"sidecar config refused: {check.stderr.strip()}")
    proc = spawn("sidecar", sidecar_argv(config))
    wait_until_ok(f"http://127.0.0.1:{stack.sidecar_admin_port}/healthz", proc, 15, interval=0.01)
    stack.procs["sidecar"] = proc


def start_forward_auth(stack: Stack, files: dict) -> None:
    """A forward-auth sidecar with the proxying sidecar's keys (its cookie opens here)."""
    stack.forward_port, stack.forward_admin_port = free_port(), free_port()
    config = WORK / "forward-auth.yaml"
    config.write_text(forward_auth.config(stack.forward_port, stack.forward_admin_port,
                                          stack.sidecar_port, stack.issuer, SIDECAR_CLIENT[0], files))
    proc = spawn("forward-auth", sidecar_argv(config))
    wait_until_ok(f"http://127.0.0.1:{stack.forward_admin_port}/healthz", proc, 15, interval=0.01)
    stack.procs["forward-auth"] = proc


def nginx_config(stack: Stack) -> Path:
    """A plain reverse proxy: no login, no request log, HTTP/1.1 with keep-alive
    to the app (the sidecar, too, reuses a connection to the app per client connection)."""
    temp = WORK / "nginx-temp"
    temp.mkdir(exist_ok=True)
    config = WORK / "nginx.conf"
    config.write_text(
        f"""daemon off;
master_process on;
worker_processes {NGINX_WORKERS};
pid {WORK / 'nginx.pid'};
error_log {WORK / 'nginx-error.log'} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp};
    proxy_temp_path {temp};
    keepalive_requests 1000000;
    upstream app {{
        server 127.0.0.1:{stack.echo_port};
        keepalive 256;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{stack.nginx_port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
    )
    return config


def start_nginx(stack: Stack) -> None:
    config = nginx_config(stack)
    check = subprocess.run([stack.nginx_bin, "-t", "-q", "-c", str(config), "-p", str(WORK)],
                           capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise BenchError(f"nginx refused its config: {check.stderr.strip()}")
    proc = spawn("nginx", [stack.nginx_bin, "-c", str(config), "-p", str(WORK)])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            status, body = http_status(f"http://127.0.0.1:{stack.nginx_port}{BENCH_PATH}")
            if status == 200:
                stack.procs["nginx"] = proc
                return
        except OSError:
            pass
        if proc.popen.poll() is not None:
            break
        time.sleep(0.01)
    raise BenchError(f"nginx did not answer within 15 s: {tail(WORK / 'nginx-error.log')}")


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (nginx serves from worker processes its master forks)."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        pids += process_tree(int(child))
    return pids


def start_oauth2_proxy(stack: Stack) -> None:
    proc = spawn("oauth2-proxy", oauth2_proxy_argv(stack, stack.o2p_port, secrets.token_hex(16)))
    wait_until_ok(f"http://127.0.0.1:{stack.o2p_port}/ping", proc, 30, interval=0.01)
    stack.procs["oauth2-proxy"] = proc


# === logging in through the real flow ===

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Browser:
    """A cookie jar and an opener that never follows redirects by itself."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(self, url: str, data: dict | None = None):
        """Returns status, headers (case-insensitive) and body; redirects are returned, not followed."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, headers={"Accept": "text/html,*/*;q=0.8"})
        try:
            with self.opener.open(req, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()

    def cookie_header(self, names) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar if names(c.name))


def log_in(start_url: str, callback_path: str) -> tuple[Browser, dict]:
    """Opens `start_url` in a fresh browser, signs in at the provider's form and
    delivers the callback. Returns the browser and the wall time of each leg."""
    browser = Browser()
    url = start_url
    legs = {"callback_s": None}
    for _ in range(20):
        parts = urllib.parse.urlsplit(url)
        if parts.path == callback_path:
            started = time.perf_counter()
            status, headers, body = browser.request(url)
            legs["callback_s"] = time.perf_counter() - started
            if status not in (302, 303, 307):
                raise BenchError(f"callback {callback_path} answered {status}: {body[:300]!r}")
            return browser, legs
        if parts.path.startswith("/interaction/"):
            form = urllib.parse.urljoin(url, parts.path.rstrip("/") + "/login")
            status, headers, body = browser.request(form, {"login": USER, "password": PASSWORD})
        else:
            status, headers, body = browser.request(url)
        if status not in (301, 302, 303, 307, 308):
            raise BenchError(f"login stopped at {url}: {status} {body[:300]!r}")
        if not headers.get("Location"):
            raise BenchError(f"redirect without Location at {url}")
        url = urllib.parse.urljoin(url, headers["Location"])
    raise BenchError(f"too many redirects logging in from {start_url}")


def check_authenticated(url: str, cookie: str) -> None:
    """The load request with this cookie must answer 200 `ok` (a redirect would mean no session)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", parts.path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200 or body != b"ok":
        raise BenchError(f"GET {url} with the session cookie gave {response.status} {body[:200]!r}")


def session_cookies(stack: Stack) -> dict[str, str]:
    cookies = {"direct": ""}
    browser, _ = log_in(f"http://127.0.0.1:{stack.sidecar_port}{BENCH_PATH}", "/auth/oidc")
    cookies["sidecar"] = browser.cookie_header(lambda name: name == "portcullis_session")
    cookies["sidecar+store"] = cookies["sidecar"]
    # nginx checks nothing; it gets the same request as the sidecar, cookie and all.
    cookies["nginx"] = cookies["sidecar"]
    browser, _ = log_in(f"http://127.0.0.1:{stack.o2p_port}{BENCH_PATH}", "/oauth2/callback")
    cookies["oauth2-proxy"] = browser.cookie_header(
        lambda name: name.startswith("_oauth2_proxy") and not name.endswith("_csrf")
    )
    for target, cookie in cookies.items():
        if target in ("sidecar", "sidecar+store", "oauth2-proxy") and not cookie:
            raise BenchError(f"logging in at {target} gave no session cookie")
        check_authenticated(target_url(stack, target), cookie)
    return cookies


def target_url(stack: Stack, target: str) -> str:
    port = {"direct": stack.echo_port, "nginx": stack.nginx_port, "sidecar": stack.sidecar_port,
            "sidecar+store": stack.store_port, "oauth2-proxy": stack.o2p_port}[target]
    return f"http://127.0.0.1:{port}{BENCH_PATH}"


# === load ===

def run_wrk(url: str, cookie: str, connections: int, duration: int,
            headers: list[str] | None = None) -> dict:
    threads = min(WRK_THREADS, connections)  # wrk needs connections >= threads
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
        "--latency", "-s", str(BENCH / "wrk-report.lua"),
    ]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}"]
    for header in headers or []:
        argv += ["-H", header]
    argv.append(url)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr.strip()}")
    line = next((l for l in result.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise BenchError(f"wrk printed no result: {result.stdout}")
    data = json.loads(line[len("BENCH_RESULT "):])
    data["threads"] = threads
    data["rps"] = data["requests"] / data["duration_s"] if data["duration_s"] else 0.0
    return data


def run_oha(oha: str, url: str, cookie: str, connections: int, rate: int, duration: int,
            headers: list[str] | None = None) -> dict:
    """An open-loop run at `rate` requests/s; latency corrected for coordinated omission."""
    argv = [
        oha, "-c", str(connections), "-q", str(rate), "-z", f"{duration}s", "--latency-correction",
        "--no-tui", "--output-format", "json", "-t", "5s",
    ]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}"]
    for header in headers or []:
        argv += ["-H", header]
    argv.append(url)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
    if result.returncode != 0:
        raise BenchError(f"oha failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    data = json.loads(result.stdout)
    statuses = data.get("statusCodeDistribution") or {}
    # Requests cut off when the run's time is up are not errors of the target.
    errors = {k: v for k, v in (data.get("errorDistribution") or {}).items() if "deadline" not in k}
    errors.update({f"status {k}": v for k, v in statuses.items() if not k.startswith("2")})
    percentiles = data["latencyPercentiles"]
    return {
        "rate": rate,
        "connections": connections,
        "rps": data["summary"]["requestsPerSec"],
        "latency_us": {k: (percentiles[k] or 0) * 1e6 for k in ("p50", "p90", "p99", "p99.9")},
        "errors": errors,
    }


def load_fixed_rate(stack: Stack, cookies: dict) -> list[dict]:
    runs = []
    for target in TARGETS:
        log(f"oha {target} c={RATE_CONNECTIONS} {RATE}/s {DURATION}s")
        data = run_oha(stack.oha_bin, target_url(stack, target), cookies[target],
                       RATE_CONNECTIONS, RATE, DURATION)
        data["target"] = target
        check_authenticated(target_url(stack, target), cookies[target])
        runs.append(data)
    return runs


def load_all(stack: Stack, cookies: dict) -> list[dict]:
    runs = []
    # A short warm-up per target: connection pools, allocator and Go runtime settle.
    for target in TARGETS:
        run_wrk(target_url(stack, target), cookies[target], 64, 1)
    for connections in CONNECTIONS:
        for target in TARGETS:  # interleaved, so a slow spell of the machine hits all alike
            pids = process_tree(stack.procs[target].popen.pid)
            reset = all([reset_hwm(pid) for pid in pids])
            time_wait_before = time_wait_to(stack.echo_port)
            log(f"wrk {target} c={connections} {DURATION}s")
            data = run_wrk(target_url(stack, target), cookies[target], connections, DURATION)
            data["target"] = target
            data["connections"] = connections
            # nginx: the master and its workers together (each one's own peak, summed).
            data["rss_peak_kib"] = sum(vm_hwm_kib(pid) for pid in pids)
            data["processes"] = len(pids)
            data["rss_peak_scope"] = "this run" if reset else "since start"
            data["cookie_bytes"] = len(cookies[target])
            # Connections to the app closed during the run (they wait 60 s in TIME-WAIT):
            # about zero for a proxy that keeps them open; for `direct`, wrk's own at the end.
            time_wait_after = time_wait_to(stack.echo_port)
            data["app_conns_closed"] = (
                max(0, time_wait_after - time_wait_before)
                if time_wait_before is not None and time_wait_after is not None else None
            )
            check_authenticated(target_url(stack, target), cookies[target])
            runs.append(data)
    return runs


def load_forward_auth(stack: Stack, cookies: dict) -> tuple[dict, dict]:
    """The forward-auth door and oauth2-proxy's /oauth2/auth: wrk at 64 connections,
    then oha at the fixed rate; each question must be answered 2xx before and after."""
    asked = forward_auth.questions(stack.forward_port, stack.o2p_port, stack.sidecar_port, BENCH_PATH)
    cookie = {"forward-auth": cookies["sidecar"], "oauth2-proxy-auth": cookies["oauth2-proxy"]}
    runs, fixed = {}, {}
    for target in forward_auth.TARGETS:
        question = asked[target]
        check_answered(question, cookie[target])
        run_wrk(question.url, cookie[target], forward_auth.CONNECTIONS, 1, question.headers)
        log(f"wrk {target} c={forward_auth.CONNECTIONS} {DURATION}s")
        runs[target] = run_wrk(question.url, cookie[target], forward_auth.CONNECTIONS, DURATION,
                               question.headers)
        log(f"oha {target} c={forward_auth.CONNECTIONS} {RATE}/s {DURATION}s")
        fixed[target] = run_oha(stack.oha_bin, question.url, cookie[target], forward_auth.CONNECTIONS,
                                RATE, DURATION, question.headers)
        check_answered(question, cookie[target])
    return runs, fixed


def check_answered(question: forward_auth.Question, cookie: str) -> None:
    """The question with this cookie must be answered 2xx (a 401 would mean no session)."""
    parts = urllib.parse.urlsplit(question.url)
    headers = dict(header.split(": ", 1) for header in question.headers)
    headers["Cookie"] = cookie
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", parts.path, headers=headers)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise BenchError(f"GET {question.url} with the session cookie gave {response.status}")


# === time to ready ===

def time_to_ready(stack: Stack, files: dict) -> dict:
    results = {"sidecar": [], "sidecar_discovered": [], "oauth2-proxy": []}
    for index in range(STARTS):
        port, admin = free_port(), free_port()
        config = write_sidecar_config(stack, f"sidecar-start-{index}", port, admin, files)
        proc = spawn(f"sidecar-start-{index}", sidecar_argv(config))
        try:
            results["sidecar"].append(wait_until_ok(f"http://127.0.0.1:{admin}/healthz", proc, 10))
            discovered = lambda body: b'"status":"ok"' in body
            results["sidecar_discovered"].append(
                wait_until_ok(f"http://127.0.0.1:{admin}/readyz", proc, 10, accept=discovered)
            )
        finally:
            stop(proc)
        port = free_port()
        proc = spawn(f"oauth2-proxy-start-{index}", oauth2_proxy_argv(stack, port, secrets.token_hex(16)))
        try:
            results["oauth2-proxy"].append(wait_until_ok(f"http://127.0.0.1:{port}/ping", proc, 20))
        finally:
            stop(proc)
    return {
        name: {"median_ms": statistics.median(samples) * 1000, "samples_ms": [s * 1000 for s in samples]}
        for name, samples in results.items()
    }


# === CPU cost of one login ===

def login_cpu(stack: Stack) -> dict:
    cases = {
        "sidecar": (stack.sidecar_port, "/auth/oidc"),
        "oauth2-proxy": (stack.o2p_port, "/oauth2/callback"),
    }
    results = {}
    for target, (port, callback_path) in cases.items():
        pid = stack.procs[target].popen.pid
        log_in(f"http://127.0.0.1:{port}{BENCH_PATH}", callback_path)  # warm: keys, pools
        before = cpu_seconds(pid)
        callbacks = []
        started = time.perf_counter()
        for _ in range(LOGINS):
            _, legs = log_in(f"http://127.0.0.1:{port}{BENCH_PATH}", callback_path)
            callbacks.append(legs["callback_s"])
        wall = time.perf_counter() - started
        after = cpu_seconds(pid)
        results[target] = {
            "logins": LOGINS,
            "cpu_ms_per_login": (after["schedstat_s"] - before["schedstat_s"]) * 1000 / LOGINS,
            "cpu_ms_per_login_ticks": (after["ticks_s"] - before["ticks_s"]) * 1000 / LOGINS,
            "callback_wall_ms_p50": statistics.median(callbacks) * 1000,
            "login_wall_ms_mean": wall * 1000 / LOGINS,
        }
    return results


# === report ===

def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg_at_start": os.getloadavg()[0],
        "uptime_at_start": uptime(),
    }


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions(stack: Stack) -> dict:
    def first_line(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "unknown"

    return {
        "portcullis-sidecar": first_line([str(BIN_DIR / "portcullis-sidecar"), "--version"]),
        "oauth2-proxy": first_line([stack.oauth2_proxy_bin, "--version"]),
        "nginx": first_line([stack.nginx_bin, "-v"]),
        "wrk": first_line(["wrk", "-v"]).split(" Copyright")[0],
        "oha": first_line([stack.oha_bin, "--version"]),
        "node": "node " + first_line(["node", "--version"]),
    }


def summarize(runs: list[dict], fixed: list[dict], startup: dict) -> tuple[dict, dict, list[dict]]:
    by = {(r["target"], r["connections"]): r for r in runs}
    at_rate = {r["target"]: r for r in fixed}
    added = {
        target: {p: at_rate[target]["latency_us"][p] - at_rate["direct"]["latency_us"][p]
                 for p in ("p50", "p99")}
        for target in PROXIES
    }
    ratios = {}
    for c in CONNECTIONS:
        direct, side, o2p = by[("direct", c)], by[("sidecar", c)], by[("oauth2-proxy", c)]
        nginx, store = by[("nginx", c)], by[("sidecar+store", c)]
        ratios[str(c)] = {
            "rps_store_over_cookie_only": store["rps"] / side["rps"],
            "rps_sidecar_over_direct": side["rps"] / direct["rps"],
            "rps_sidecar_over_nginx": side["rps"] / nginx["rps"],
            "rps_sidecar_over_oauth2_proxy": side["rps"] / o2p["rps"],
            "p99_added_us_nginx": nginx["latency_us"]["p99"] - direct["latency_us"]["p99"],
            "p50_added_us_sidecar": side["latency_us"]["p50"] - direct["latency_us"]["p50"],
            "p99_added_us_sidecar": side["latency_us"]["p99"] - direct["latency_us"]["p99"],
            "p50_added_us_oauth2_proxy": o2p["latency_us"]["p50"] - direct["latency_us"]["p50"],
            "p99_added_us_oauth2_proxy": o2p["latency_us"]["p99"] - direct["latency_us"]["p99"],
        }
    targets = []
    if "64" in ratios:
        r = ratios["64"]["rps_sidecar_over_oauth2_proxy"]
        targets.append({"target": "sidecar throughput >= 2x oauth2-proxy at 64 connections",
                        "value": f"{r:.2f}x", "pass": r >= 2.0})
    for c in ("64", "256"):
        if c in ratios:
            r = ratios[c]["rps_sidecar_over_nginx"]
            targets.append({"target": f"sidecar throughput >= 0.8x nginx at {c} connections",
                            "value": f"{r:.2f}x", "pass": r >= 0.8})
    p99_added = added["sidecar"]["p99"]
    # A negative difference means the direct run was the noisier one: no verdict.
    verdict = None if p99_added < 0 else p99_added < 500
    targets.append({"target": f"sidecar p99 added latency < 0.5 ms at {RATE_CONNECTIONS} connections "
                              f"({RATE:,} req/s)",
                    "value": fmt_us(p99_added), "pass": verdict})
    if "64" in ratios:
        r = ratios["64"]["rps_store_over_cookie_only"]
        targets.append({"target": "session store costs < 5 % req/s at 64 connections",
                        "value": f"{(1 - r) * 100:+.1f} %", "pass": r >= 0.95})
    p99_store = added["sidecar+store"]["p99"] - added["sidecar"]["p99"]
    targets.append({"target": f"session store adds nothing to p99 at {RATE:,} req/s (within 100 µs)",
                    "value": fmt_us(p99_store), "pass": p99_store < 100})
    if ("sidecar", 256) in by:
        rss = by[("sidecar", 256)]["rss_peak_kib"] / 1024
        targets.append({"target": "sidecar RSS < 20 MiB at 256 connections",
                        "value": f"{rss:.1f} MiB", "pass": rss < 20})
    ready = startup["sidecar"]["median_ms"]
    targets.append({"target": "sidecar ready < 100 ms", "value": f"{ready:.1f} ms", "pass": ready < 100})
    return ratios, added, targets


def fmt_us(us: float) -> str:
    return f"{us / 1000:.2f} ms" if abs(us) >= 1000 else f"{us:.0f} µs"


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Portcullis benchmark",
        "",
        f"Machine: {m['nproc']} CPUs, {m['cpu_model']}, Linux {m['kernel']}, {m['date']} "
        f"(load average at start {m['loadavg_at_start']:.2f}).",
        f"`uptime` at start: {m.get('uptime_at_start', '?')}; at end: {m.get('uptime_at_end', '?')}.",
        f"Versions: {'; '.join(report['versions'].values())}.",
        f"Load: wrk, {report['config']['duration_s']} s per run, {report['config']['wrk_threads']} threads "
        f"(1 at 1 connection), `GET {BENCH_PATH}` with the session cookie, 2-byte answer; "
        "load generator, proxy and app share the machine's CPUs.",
        "",
        "## Throughput and latency",
        "",
        "| connections | target | req/s | p50 | p99 | peak RSS | errors | app conns closed |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["load"]:
        errors = sum(r["errors"].values())
        lines.append(
            f"| {r['connections']} | {r['target']} | {r['rps']:,.0f} | {fmt_us(r['latency_us']['p50'])} | "
            f"{fmt_us(r['latency_us']['p99'])} | {r['rss_peak_kib'] / 1024:.1f} MiB | {errors} | "
            f"{'?' if r['app_conns_closed'] is None else r['app_conns_closed']} |"
        )
    lines += [
        "",
        "Peak RSS is VmHWM of the process serving that row (the echo app itself for `direct`), "
        "reset before each run; for nginx the sum of its master's and workers' peaks. Errors are socket errors, timeouts and non-2xx/3xx answers. "
        "App conns closed: about how many connections to the echo app were closed during the run (new TIME-WAIT sockets); "
        "a proxy that reuses its connections to the app closes none, or (the sidecar) one per client connection that ended "
        "(for `direct`, wrk's own).",
        "",
        "## Ratios",
        "",
        "| connections | req/s sidecar/nginx | req/s sidecar/direct | req/s sidecar/oauth2-proxy "
        "| req/s store/cookie-only | p99 added: nginx | p99 added: sidecar | p99 added: oauth2-proxy |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c, r in report["ratios"].items():
        lines.append(
            f"| {c} | **{r['rps_sidecar_over_nginx']:.2f}** | {r['rps_sidecar_over_direct']:.2f} | "
            f"{r['rps_sidecar_over_oauth2_proxy']:.2f} | {r['rps_store_over_cookie_only']:.2f} | "
            f"{fmt_us(r['p99_added_us_nginx'])} | "
            f"{fmt_us(r['p99_added_us_sidecar'])} | {fmt_us(r['p99_added_us_oauth2_proxy'])} |"
        )
    lines += [
        "",
        f"## Latency at a fixed rate: {report['config']['rate']:,} req/s over "
        f"{report['config']['rate_connections']} connections",
        "",
        "| target | req/s | p50 | p90 | p99 | p99.9 | errors | p50 added | p99 added |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["fixed_rate"]:
        added = report["added_latency_us"].get(r["target"])
        lat = r["latency_us"]
        lines.append(
            f"| {r['target']} | {r['rps']:,.0f} | {fmt_us(lat['p50'])} | {fmt_us(lat['p90'])} | "
            f"{fmt_us(lat['p99'])} | {fmt_us(lat['p99.9'])} | {sum(r['errors'].values())} | "
            + (f"{fmt_us(added['p50'])} | {fmt_us(added['p99'])} |" if added else "| |")
        )
    lines += [
        "",
        "oha, open loop (requests are sent on schedule whether or not earlier ones have been answered) "
        "with latency corrected for coordinated omission, same duration as above. Every target sustains "
        "this rate, so the difference to `direct` is what the proxy adds, not queueing.",
    ]
    forward = report["forward_auth"]
    lines += forward_auth.markdown(forward["load"], forward["fixed_rate"], report["config"]["rate"])
    s = report["startup"]
    lines += [
        "",
        "## Start-up and login",
        "",
        "| | sidecar | oauth2-proxy |",
        "|---|---:|---:|",
        f"| start to ready, median of {report['config']['starts']} (ms) | {s['sidecar']['median_ms']:.1f} "
        f"(`/healthz`; {s['sidecar_discovered']['median_ms']:.1f} until discovery is loaded) | "
        f"{s['oauth2-proxy']['median_ms']:.1f} (`/ping`) |",
    ]
    lc = report["login_cpu"]
    lines += [
        f"| CPU per login (ms; {report['config']['logins']} logins) | {lc['sidecar']['cpu_ms_per_login']:.2f} "
        f"| {lc['oauth2-proxy']['cpu_ms_per_login']:.2f} |",
        f"| callback wall time, median (ms) | {lc['sidecar']['callback_wall_ms_p50']:.1f} "
        f"| {lc['oauth2-proxy']['callback_wall_ms_p50']:.1f} |",
        "",
        "CPU per login is the proxy process's CPU time (sum of its threads' run time from "
        "`/proc/<pid>/task/*/schedstat`) across whole logins divided by their number: the first "
        "redirect to the provider (the sidecar's `/auth/start`, oauth2-proxy's start) and the callback "
        "(code exchange, ID-token validation, userinfo, sealing the session). The provider's own CPU is "
        "not included. utime+stime gives "
        f"{lc['sidecar']['cpu_ms_per_login_ticks']:.2f} and {lc['oauth2-proxy']['cpu_ms_per_login_ticks']:.2f} ms "
        f"(resolution {1000 / CLK_TCK:.0f} ms per tick over all logins).",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---:|---|",
    ]
    for t in report["targets"]:
        verdict = {True: "pass", False: "**miss**", None: "inconclusive (noisy run)"}[t["pass"]]
        lines.append(f"| {t['target']} | {t['value']} | {verdict} |")
    return "\n".join(lines) + "\n"


# === main ===

def on_alarm(signum, frame):
    raise BenchError(f"the benchmark took longer than BENCH_TIMEOUT={TIMEOUT}s")


def preflight() -> tuple[str, str, str]:
    for binary in ("portcullis-sidecar", "echo-upstream"):
        if not (BIN_DIR / binary).is_file():
            raise BenchError(f"{BIN_DIR / binary} is missing: run `cargo build --release --workspace --bins`")
    if not (ROOT / "tests/idp/node_modules").is_dir():
        raise BenchError("tests/idp/node_modules is missing: run `npm ci --prefix tests/idp`")
    o2p = installed("OAUTH2_PROXY", "install-oauth2-proxy.sh")  # also installs wrk
    if not shutil.which("wrk"):
        raise BenchError("wrk is not installed")
    return o2p, installed("OHA", "install-oha.sh"), installed("NGINX", "install-nginx.sh")


def installed(variable: str, script: str) -> str:
    """The binary `$variable` names, else the one `bench/<script>` installs (once) and prints."""
    if os.environ.get(variable):
        return os.environ[variable]
    result = subprocess.run([str(BENCH / script)], stdout=subprocess.PIPE, text=True, timeout=1800)
    if result.returncode != 0:
        raise BenchError(f"bench/{script} failed")
    return result.stdout.strip().splitlines()[-1]


def main() -> int:
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.iterdir():
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    stack = Stack()
    host = machine()
    try:
        stack.oauth2_proxy_bin, stack.oha_bin, stack.nginx_bin = preflight()
        signal.alarm(TIMEOUT)  # the tool install above may take long the first time; the rest may not
        stack.sidecar_port, stack.sidecar_admin_port, stack.o2p_port = free_port(), free_port(), free_port()
        stack.nginx_port = free_port()
        log("starting the identity provider and the echo app")
        start_idp(stack)
        start_echo(stack)
        files = sidecar_files()
        log(f"starting the sidecar on :{stack.sidecar_port} and oauth2-proxy on :{stack.o2p_port}")
        start_sidecar(stack, files)
        stack.store_port, stack.store_admin_port = free_port(), free_port()
        log(f"starting redis and a sidecar with the session store on :{stack.store_port}")
        start_redis(stack)
        start_sidecar_with_store(stack, files)
        start_oauth2_proxy(stack)
        start_forward_auth(stack, files)
        log(f"starting nginx on :{stack.nginx_port}")
        start_nginx(stack)
        log("logging in to each proxy")
        cookies = session_cookies(stack)
        log(f"time to ready, {STARTS} starts each")
        startup = time_to_ready(stack, files)
        log(f"CPU per login, {LOGINS} logins each")
        logins = login_cpu(stack)
        runs = load_all(stack, cookies)
        fixed = load_fixed_rate(stack, cookies)
        forward_runs, forward_fixed = load_forward_auth(stack, cookies)
        ratios, added, targets = summarize(runs, fixed, startup)
        app_p99 = next(r for r in fixed if r["target"] == "direct")["latency_us"]["p99"]
        targets += forward_auth.targets(forward_runs, forward_fixed, RATE, app_p99)
        report = {
            "machine": host,
            "versions": versions(stack),
            "config": {
                "duration_s": DURATION, "connections": CONNECTIONS, "wrk_threads": WRK_THREADS,
                "logins": LOGINS, "starts": STARTS, "path": BENCH_PATH,
                "rate": RATE, "rate_connections": RATE_CONNECTIONS,
            },
            "load": runs,
            "ratios": ratios,
            "fixed_rate": fixed,
            "added_latency_us": added,
            "startup": startup,
            "login_cpu": logins,
            "forward_auth": {"load": forward_runs, "fixed_rate": forward_fixed},
            "targets": targets,
        }
        report["machine"]["uptime_at_end"] = uptime()
    except BenchError as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        signal.alarm(0)
        stop_all()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / "latest.md").write_text(text)
    print(text)
    log(f"wrote {RESULTS / 'latest.json'} and {RESULTS / 'latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
