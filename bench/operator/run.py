#!/usr/bin/env python3
"""Operator benchmark: 1,000 OidcSettings on a real kube-apiserver.

Starts etcd and kube-apiserver (tests/tools/start-kube.sh) and the test identity
provider on 127.0.0.1, applies the CRD, creates N client Secrets and N
OidcSettings through the API server's REST API, runs the release
`portcullis-operator` against it, and measures:

- the time until every OidcSettings has Ready=True (list polled every 0.5 s);
- the operator's peak RSS (VmHWM) and thread count;
- its write requests to the API server while it works and, once it went quiet,
  during a steady-state window (must be zero: no reconcile storm), plus its
  reconcile runs in that window.

The operator runs as its own ServiceAccount (token from TokenRequest), and
FlowSchemas of our own (priority level `exempt`, as for the admin) match only
that user, one per kind of request, so the API server's
`apiserver_flowcontrol_dispatched_requests_total{flow_schema=...}` counts the
operator's requests and nobody else's. `apiserver_request_total` (all clients)
and the resourceVersions of every object in the namespace are a cross-check.

Writes bench/operator/results/latest.json and latest.md (or <OPBENCH_LABEL>.*) and prints them.
Python 3.11 standard library only. Loopback only; every wait has a timeout;
every process started here is stopped at the end.

Environment:
  OPBENCH_COUNT          OidcSettings (each with its own client Secret) (default 1000)
  OPBENCH_THREADS        parallel create requests (default 16)
  OPBENCH_START          `after`: start the operator once all exist (default);
                         `before`: start it first, then create
  OPBENCH_ROOT_ADMIN     `generated` (rootAdmin without passwordSecretRef: the operator
                         generates a password and hashes it, default) or `none`
  OPBENCH_SETTLE         seconds of the steady-state window (default 30)
  OPBENCH_QUIET          seconds without a reconcile or write before the window starts (default 5)
  OPBENCH_QUIET_TIMEOUT  limit for going quiet after all are Ready, seconds (default 120)
  OPBENCH_READY_TIMEOUT  limit for all Ready, seconds (default 300)
  OPBENCH_RSS_LIMIT_MIB  the operator is killed (and the run fails) above this RSS (default 4096)
  OPBENCH_BIN_DIR        where portcullis-operator is (default target/release)
  OPBENCH_OPERATOR_ARGS  extra operator flags, e.g. "--recheck-seconds 20"
  OPBENCH_OPERATOR_ENV   extra environment for the operator only, e.g. "MALLOC_ARENA_MAX=2"
  OPBENCH_TIMEOUT        hard limit for the whole run, seconds
  OPBENCH_LABEL          results file name: results/<label>.json and .md (default latest)
  PORTCULLIS_KUBE_TOOLS  kube-apiserver/etcd dir (default: tests/tools/install-kube-tools.sh)
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from processes import BenchError, Proc, Processes, free_port, wait_for_line  # noqa: E402
from processes import tail as log_tail  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = HERE / "results"
WORK = RESULTS / "work"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


COUNT = env_int("OPBENCH_COUNT", 1000)
THREADS = env_int("OPBENCH_THREADS", 16)
START = os.environ.get("OPBENCH_START", "after")
ROOT_ADMIN = os.environ.get("OPBENCH_ROOT_ADMIN", "generated")
SETTLE = env_int("OPBENCH_SETTLE", 30)
QUIET = env_int("OPBENCH_QUIET", 5)
QUIET_TIMEOUT = env_int("OPBENCH_QUIET_TIMEOUT", 120)
READY_TIMEOUT = env_int("OPBENCH_READY_TIMEOUT", 300)
RSS_LIMIT_MIB = env_int("OPBENCH_RSS_LIMIT_MIB", 4096)
BIN_DIR = Path(os.environ.get("OPBENCH_BIN_DIR", ROOT / "target" / "release"))
OPERATOR_ARGS = shlex.split(os.environ.get("OPBENCH_OPERATOR_ARGS", ""))
OPERATOR_ENV = dict(kv.split("=", 1) for kv in shlex.split(os.environ.get("OPBENCH_OPERATOR_ENV", "")))
LABEL = os.environ.get("OPBENCH_LABEL", "latest")
TIMEOUT = env_int("OPBENCH_TIMEOUT", 300 + COUNT // 5 + READY_TIMEOUT + QUIET_TIMEOUT + SETTLE)

NAMESPACE = "opbench"
GROUP_PATH = "/apis/portcullis.dev/v1alpha1"
SA_NAMESPACE, SA_NAME = "default", "opbench-operator"
LEASE_NAMESPACE = "default"
POLL = 0.5
READY_TARGET_S = 60
RSS_TARGET_MIB = 100
WRITE_VERBS = {"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
DISCOVERY_PATH = "/.well-known/openid-configuration"

# The operator's requests by kind: FlowSchemas matched in this order (lowest precedence first).
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
FLOW_SCHEMAS = [
    ("opbench-op-lease-writes", {"resourceRules": [
        {"verbs": WRITE, "apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "namespaces": ["*"]}]}),
    ("opbench-op-event-writes", {"resourceRules": [
        {"verbs": WRITE, "apiGroups": ["", "events.k8s.io"], "resources": ["events"],
         "namespaces": ["*"]}]}),
    ("opbench-op-status-writes", {"resourceRules": [
        {"verbs": WRITE, "apiGroups": ["portcullis.dev"], "resources": ["oidcsettings/status"],
         "namespaces": ["*"]}]}),
    ("opbench-op-secret-writes", {"resourceRules": [
        {"verbs": WRITE, "apiGroups": [""], "resources": ["secrets"], "namespaces": ["*"]}]}),
    ("opbench-op-configmap-writes", {"resourceRules": [
        {"verbs": WRITE, "apiGroups": [""], "resources": ["configmaps"], "namespaces": ["*"]}]}),
    ("opbench-op-other-writes", {"resourceRules": [
        {"verbs": WRITE, "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"],
         "clusterScope": True}]}),
    ("opbench-op-reads", {
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                           "namespaces": ["*"], "clusterScope": True}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}),
]
WRITE_SCHEMAS = [name for name, _ in FLOW_SCHEMAS if name.endswith("-writes")]
# Writes that are not the reconcile's: leader election renews its Lease every lease/3 s.
RECONCILE_WRITE_SCHEMAS = [n for n in WRITE_SCHEMAS if n != "opbench-op-lease-writes"]


def log(message: str) -> None:
    print(f"[opbench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# === processes ===

PROCESSES = Processes(WORK, ROOT, log, stop_timeout=20.0)
spawn, stop_all = PROCESSES.spawn, PROCESSES.stop_all


def tail(path: Path) -> str:
    return log_tail(path, lines=15, separator="\n")


# === /proc readings ===

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (KiB) and Threads of a live process; {} if it is gone."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return values


def cpu_s(pid: int) -> float | None:
    """utime + stime of the process (all threads, also exited ones), seconds."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Monitor(threading.Thread):
    """Samples the operator's RSS and threads every 0.1 s; kills it above the RSS limit."""

    def __init__(self, proc: Proc) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.peak_rss_kib = 0
        self.peak_threads = 0
        self.killed_over_limit = False
        self.samples: list[tuple[float, int, int]] = []  # (s since start, rss KiB, threads)
        self.last_cpu_s: float | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        last_kept = -1.0
        while not self.stopping.is_set() and self.proc.popen.poll() is None:
            status = proc_status(self.proc.popen.pid)
            if status:
                rss, threads = status.get("VmRSS", 0), status.get("Threads", 0)
                self.peak_rss_kib = max(self.peak_rss_kib, rss)
                self.peak_threads = max(self.peak_threads, threads)
                self.last_cpu_s = cpu_s(self.proc.popen.pid) or self.last_cpu_s
                at = time.monotonic() - self.proc.started_at
                if at - last_kept >= 1.0:  # keep one sample a second for the report
                    self.samples.append((round(at, 1), rss, threads))
                    last_kept = at
                if rss > RSS_LIMIT_MIB * 1024:
                    log(f"operator RSS {rss // 1024} MiB > OPBENCH_RSS_LIMIT_MIB={RSS_LIMIT_MIB}: killing it")
                    self.killed_over_limit = True
                    self.proc.popen.kill()
                    return
            time.sleep(0.1)


# === the API server ===

class Kube:
    """A tiny REST client: bearer token, the cluster's CA, one keep-alive connection per thread."""

    def __init__(self, server: str, token: str, cafile: Path) -> None:
        parts = urllib.parse.urlsplit(server)
        self.host, self.port = parts.hostname, parts.port
        self.token = token
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.local = threading.local()

    def with_token(self, token: str) -> "Kube":
        other = Kube.__new__(Kube)
        other.host, other.port, other.context = self.host, self.port, self.context
        other.token, other.local = token, threading.local()
        return other

    def request(self, method: str, path: str, body=None, content_type: str = "application/json",
                timeout: float = 30) -> tuple[int, bytes]:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                                   timeout=timeout)
                self.local.conn = conn
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError) as error:
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise BenchError(f"{method} {path}: {error}") from error
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body=None, ok=(200, 201), **kwargs) -> dict:
        status, payload = self.request(method, path, body, **kwargs)
        if status not in ok:
            raise BenchError(f"{method} {path} answered {status}: {payload[:400]!r}")
        return json.loads(payload) if payload else {}

    def create(self, path: str, body: dict) -> None:
        """POST; 409 counts as done (a retried request that had gone through)."""
        self.json("POST", path, body, ok=(200, 201, 409))

    def text(self, path: str) -> str:
        status, payload = self.request("GET", path, timeout=60)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}: {payload[:200]!r}")
        return payload.decode()


def start_cluster(workdir: Path) -> tuple[Kube, dict]:
    tools = os.environ.get("PORTCULLIS_KUBE_TOOLS")
    if not tools:
        result = subprocess.run([str(ROOT / "tests/tools/install-kube-tools.sh")],
                                stdout=subprocess.PIPE, text=True, timeout=1800)
        if result.returncode != 0:
            raise BenchError("tests/tools/install-kube-tools.sh failed")
        tools = result.stdout.strip().splitlines()[-1]
    result = subprocess.run([str(ROOT / "tests/tools/start-kube.sh"), tools, str(workdir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if result.returncode != 0:
        raise BenchError(f"start-kube.sh failed: {result.stderr[-2000:]}")
    env = dict(line.split("=", 1) for line in (workdir / "env").read_text().splitlines() if "=" in line)
    pids = [int(p) for p in (workdir / "pids").read_text().split()]
    info = {"tools": tools, "server": env["KUBE_APISERVER_URL"],
            "apiserver_pid": pids[0], "etcd_pid": pids[1]}
    return Kube(env["KUBE_APISERVER_URL"], env["KUBE_TOKEN"], workdir / "certs/apiserver.crt"), info


def stop_cluster(workdir: Path) -> None:
    subprocess.run([str(ROOT / "tests/tools/stop-kube.sh"), str(workdir)], timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until(what: str, check, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except BenchError:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout}s waiting for {what}")


def apply_crd(kube: Kube) -> None:
    name = "oidcsettings.portcullis.dev"
    kube.json("PATCH",
              f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
              "?fieldManager=portcullis-opbench&force=true",
              (ROOT / "crds/oidcsettings.yaml").read_bytes(),
              content_type="application/apply-patch+yaml")

    def established():
        crd = kube.json("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        return any(c["type"] == "Established" and c["status"] == "True"
                   for c in (crd.get("status") or {}).get("conditions") or [])

    wait_until("the CRD to be established", established, 30)
    wait_until("OidcSettings to be served",
               lambda: kube.request("GET", f"{GROUP_PATH}/oidcsettings")[0] == 200, 30)


def operator_identity(kube: Kube) -> Kube:
    """A ServiceAccount bound to cluster-admin, its token, and FlowSchemas that match only it."""
    kube.create(f"/api/v1/namespaces/{SA_NAMESPACE}/serviceaccounts",
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SA_NAME}})
    kube.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": SA_NAME},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": SA_NAME, "namespace": SA_NAMESPACE}],
    })
    subject = {"kind": "ServiceAccount", "serviceAccount": {"name": SA_NAME, "namespace": SA_NAMESPACE}}
    for precedence, (name, rule) in enumerate(FLOW_SCHEMAS, start=40):
        kube.create("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas", {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {"matchingPrecedence": precedence,
                     "priorityLevelConfiguration": {"name": "exempt"},
                     "rules": [{"subjects": [subject], **rule}]},
        })
    token = kube.json("POST", f"/api/v1/namespaces/{SA_NAMESPACE}/serviceaccounts/{SA_NAME}/token", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": 7200},
    })["status"]["token"]
    operator = kube.with_token(token)
    # The binding and the FlowSchemas take effect within a moment: wait until a
    # request of this user is allowed and counted under its own FlowSchema.
    before = flow_counts(kube).get("opbench-op-reads", 0)
    wait_until("the operator's ServiceAccount to be authorized",
               lambda: operator.request("GET", f"{GROUP_PATH}/oidcsettings")[0] == 200, 30)
    wait_until("the operator's FlowSchemas to count its requests",
               lambda: operator.request("GET", "/version")[0] == 200
               and flow_counts(kube).get("opbench-op-reads", 0) > before, 30, interval=0.5)
    return operator


def write_operator_kubeconfig(admin_kubeconfig: Path, token: str, path: Path) -> None:
    text = admin_kubeconfig.read_text()
    text, replaced = re.subn(r"(?m)^(\s*token:\s*).*$", lambda m: m.group(1) + token, text)
    if replaced != 1:
        raise BenchError("cannot put the operator's token into the kubeconfig")
    text = text.replace("user: portcullis-admin", f"user: {SA_NAME}").replace(
        "name: portcullis-admin", f"name: {SA_NAME}")
    path.write_text(text)
    path.chmod(0o600)


# === metrics ===

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str, prefixes: tuple[str, ...]):
    for line in text.splitlines():
        if not line.startswith(prefixes):
            continue
        match = METRIC_LINE.match(line)
        if match:
            labels = dict(LABEL_RE.findall(match.group(2) or ""))
            try:
                yield match.group(1), labels, float(match.group(3))
            except ValueError:
                pass


def flow_counts(kube: Kube) -> dict[str, float]:
    """Requests dispatched per FlowSchema of ours."""
    counts = {}
    for _, labels, value in parse_metrics(kube.text("/metrics"),
                                          ("apiserver_flowcontrol_dispatched_requests_total",)):
        if labels.get("flow_schema", "").startswith("opbench-op-"):
            counts[labels["flow_schema"]] = counts.get(labels["flow_schema"], 0) + value
    return counts


def apiserver_snapshot(kube: Kube) -> dict:
    """Our FlowSchemas' counts, and every client's writes by verb/group/resource."""
    text = kube.text("/metrics")
    flows, writes = {}, {}
    for name, labels, value in parse_metrics(text, ("apiserver_flowcontrol_dispatched_requests_total",
                                                    "apiserver_request_total")):
        if name == "apiserver_flowcontrol_dispatched_requests_total":
            schema = labels.get("flow_schema", "")
            if schema.startswith("opbench-op-"):
                flows[schema] = flows.get(schema, 0) + value
        elif labels.get("verb") in WRITE_VERBS:
            resource = labels.get("resource", "") + (f"/{labels['subresource']}" if labels.get("subresource") else "")
            key = f"{labels['verb']} {labels.get('group') or 'core'}/{resource}"
            writes[key] = writes.get(key, 0) + value
    return {"flows": flows, "writes": writes}


def diff(after: dict, before: dict) -> dict:
    keys = set(after) | set(before)
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(keys)
            if after.get(k, 0) - before.get(k, 0)}


def operator_metrics_zero() -> dict:
    return {"reconcile_runs": 0.0, "failures": {}, "duration_sum_s": 0.0, "duration_count": 0.0,
            "duration_buckets": {}, "leader": 0.0}


def operator_metrics(admin_url: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(admin_url).port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    out = operator_metrics_zero()
    for name, labels, value in parse_metrics(text, ("portcullis_operator_",)):
        if name == "portcullis_operator_reconcile_runs_total":
            out["reconcile_runs"] = value
        elif name == "portcullis_operator_reconcile_failures_total":
            out["failures"][labels.get("reason", "?")] = value
        elif name == "portcullis_operator_reconcile_duration_seconds_sum":
            out["duration_sum_s"] = value
        elif name == "portcullis_operator_reconcile_duration_seconds_count":
            out["duration_count"] = value
        elif name == "portcullis_operator_reconcile_duration_seconds_bucket":
            out["duration_buckets"][labels.get("le", "?")] = value
        elif name == "portcullis_operator_leader":
            out["leader"] = value
    return out


def bucket_quantile(buckets: dict, q: float) -> str:
    """The upper bound of the histogram bucket holding quantile q (as a string)."""
    items = sorted(((float("inf") if le == "+Inf" else float(le), n) for le, n in buckets.items()))
    total = items[-1][1] if items else 0
    for le, n in items:
        if total and n >= q * total:
            return "> 10.24 s" if le == float("inf") else f"<= {le:g} s"
    return "n/a"


def idp_counts(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def event_census(kube: Kube) -> dict:
    """The Events in the namespace: how many per OidcSettings, and their reasons."""
    per_object, reasons, messages, occurrences = {}, {}, {}, 0
    for item in kube.json("GET", f"/api/v1/namespaces/{NAMESPACE}/events", timeout=60).get("items", []):
        name = item.get("involvedObject", {}).get("name", "?")
        count = (item.get("series") or {}).get("count") or item.get("count") or 1
        per_object[name] = per_object.get(name, 0) + count
        reasons[item.get("reason", "?")] = reasons.get(item.get("reason", "?"), 0) + count
        key = f"{item.get('type', '?')} {item.get('reason', '?')}: {item.get('message', '')[:160]}"
        messages[key] = messages.get(key, 0) + count
        occurrences += count
    spread = {}
    for n in per_object.values():
        spread[str(n)] = spread.get(str(n), 0) + 1
    return {"objects": len(per_object), "occurrences": occurrences, "by_reason": reasons,
            "top_messages": dict(sorted(messages.items(), key=lambda kv: -kv[1])[:5]),
            "objects_by_occurrences": dict(sorted(spread.items(), key=lambda kv: int(kv[0])))}


def resource_versions(kube: Kube) -> dict[str, str]:
    """kind/name -> resourceVersion of everything the operator may touch."""
    versions = {}
    for kind, path in [
        ("OidcSettings", f"{GROUP_PATH}/namespaces/{NAMESPACE}/oidcsettings"),
        ("Secret", f"/api/v1/namespaces/{NAMESPACE}/secrets"),
        ("ConfigMap", f"/api/v1/namespaces/{NAMESPACE}/configmaps"),
        ("Event", f"/api/v1/namespaces/{NAMESPACE}/events"),
        ("Lease", f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases"),
    ]:
        for item in kube.json("GET", path, timeout=60).get("items", []):
            versions[f"{kind}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return versions


# === the objects ===

def name_of(index: int) -> str:
    return f"app-{index:04d}"


def client_secret(index: int) -> dict:
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": f"{name_of(index)}-oidc"},
        "type": "Opaque",
        "data": {"client-secret": base64.b64encode(f"secret-{index}".encode()).decode()},
    }


def oidc_settings(index: int, issuer: str) -> dict:
    name = name_of(index)
    spec = {
        "wellKnownUrl": f"{issuer}{DISCOVERY_PATH}",
        "usernameClaim": "preferred_username",
        "groupClaim": "groups",
        "scopes": ["openid", "profile", "email"],
        "clientId": name,
        "clientSecretRef": {"name": f"{name}-oidc", "key": "client-secret"},
        "publicUrl": f"https://{name}.example.test",
        "upstreamPort": 8080,
    }
    if ROOT_ADMIN == "generated":
        spec["rootAdmin"] = {"username": "admin"}
    return {"apiVersion": "portcullis.dev/v1alpha1", "kind": "OidcSettings",
            "metadata": {"name": name}, "spec": spec}


def create_all(kube: Kube, issuer: str) -> dict:
    """Creates the client Secret, then the OidcSettings, of each index; THREADS in parallel."""
    secrets_path = f"/api/v1/namespaces/{NAMESPACE}/secrets"
    settings_path = f"{GROUP_PATH}/namespaces/{NAMESPACE}/oidcsettings"

    def one(index: int) -> None:
        kube.create(secrets_path, client_secret(index))
        kube.create(settings_path, oidc_settings(index, issuer))

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for future in concurrent.futures.as_completed([pool.submit(one, i) for i in range(COUNT)]):
            future.result()
    ended = time.monotonic()
    return {"started": started, "ended": ended, "seconds": ended - started,
            "objects": 2 * COUNT, "objects_per_s": 2 * COUNT / (ended - started)}


def ready_state(kube: Kube) -> tuple[int, int, dict]:
    """(ready, total, not-ready reasons) from one list of the OidcSettings."""
    items = kube.json("GET", f"{GROUP_PATH}/namespaces/{NAMESPACE}/oidcsettings", timeout=60)["items"]
    ready, reasons = 0, {}
    for item in items:
        condition = next((c for c in (item.get("status") or {}).get("conditions") or []
                          if c.get("type") == "Ready"), None)
        if condition and condition.get("status") == "True":
            ready += 1
        else:
            reason = condition.get("reason", "?") if condition else "NoStatus"
            reasons[reason] = reasons.get(reason, 0) + 1
    return ready, len(items), reasons


# === the run ===

@dataclass
class Stack:
    workdir: Path
    kube: Kube | None = None
    cluster: dict | None = None
    issuer: str = ""
    idp: Proc | None = None
    idp_counts: Path | None = None
    operator: Proc | None = None
    admin_url: str = ""
    monitor: Monitor | None = None
    # Filled as the run goes, so a failed run still reports how far it got.
    creation: dict | None = None
    progress: list = field(default_factory=list)  # (s since t0, Ready count) at each change
    p_start: dict | None = None
    last_operator_metrics: dict | None = None
    watch: "ReadyWatch | None" = None


def start_idp(stack: Stack) -> None:
    stack.idp_counts = WORK / "idp-counts.json"
    stack.idp = spawn("idp", ["node", "--require", str(HERE / "idp-count.cjs"), "tests/idp/idp.mjs"],
                      env={"IDP_PORT": "0", "IDP_COUNT_FILE": str(stack.idp_counts)}, stdout_pipe=True)
    stack.issuer = wait_for_line(stack.idp, "IDP_READY ", 30)


def start_operator(stack: Stack, kubeconfig: Path) -> None:
    port = free_port()
    stack.admin_url = f"http://127.0.0.1:{port}"
    argv = [str(BIN_DIR / "portcullis-operator"),
            "--admin-listen", f"127.0.0.1:{port}",
            "--webhook-listen", f"127.0.0.1:{free_port()}",
            "--lease-namespace", LEASE_NAMESPACE, "--identity", "opbench", *OPERATOR_ARGS]
    stack.operator = spawn("operator", argv, env={"KUBECONFIG": str(kubeconfig), "RUST_LOG": "info", **OPERATOR_ENV})
    stack.monitor = Monitor(stack.operator)
    stack.monitor.start()

    def leading():
        if stack.operator.popen.poll() is not None:
            raise BenchError(f"the operator exited with {stack.operator.popen.returncode}:\n"
                             f"{tail(stack.operator.log_path)}")
        try:
            return operator_metrics(stack.admin_url)["leader"] == 1.0
        except OSError:
            return False

    deadline = time.monotonic() + 30
    while not leading():
        if time.monotonic() > deadline:
            raise BenchError(f"the operator did not lead within 30 s:\n{tail(stack.operator.log_path)}")
        time.sleep(0.05)


def cpu_snapshot(stack: Stack) -> dict:
    pids = {"operator": stack.operator.popen.pid if stack.operator else None,
            "kube-apiserver": stack.cluster["apiserver_pid"], "etcd": stack.cluster["etcd_pid"],
            "idp": stack.idp.popen.pid if stack.idp else None}
    return {name: cpu_s(pid) if pid else None for name, pid in pids.items()}


def cpu_diff(after: dict, before: dict) -> dict:
    return {k: round(after[k] - before[k], 2) for k in after
            if after.get(k) is not None and before.get(k) is not None}


def check_operator(stack: Stack) -> None:
    if stack.operator and stack.operator.popen.poll() is not None:
        reason = (f"killed above OPBENCH_RSS_LIMIT_MIB={RSS_LIMIT_MIB}"
                  if stack.monitor and stack.monitor.killed_over_limit
                  else f"exited with {stack.operator.popen.returncode}")
        raise BenchError(f"the operator {reason}:\n{tail(stack.operator.log_path)}")


class ReadyWatch(threading.Thread):
    """Watches the OidcSettings and notes when each change of the Ready count arrives.

    A list of 1,000 objects from a busy API server can take seconds, so the
    list poll alone would time Ready coarsely; the watch events arrive as the
    status writes land. The poll stays the authority (it must agree at the end).
    """

    def __init__(self, kube: Kube) -> None:
        super().__init__(daemon=True)
        self.kube = kube
        self.ready: dict[str, bool] = {}
        self.changes: list[tuple[float, int]] = []  # (monotonic, Ready count)
        self.all_ready_at: float | None = None
        self.error: str | None = None
        self.lock = threading.Lock()

    def note(self, item: dict) -> None:
        condition = next((c for c in (item.get("status") or {}).get("conditions") or []
                          if c.get("type") == "Ready"), None)
        self.ready[item["metadata"]["name"]] = bool(condition and condition.get("status") == "True")
        count = sum(self.ready.values())
        with self.lock:
            if not self.changes or self.changes[-1][1] != count:
                self.changes.append((time.monotonic(), count))
            if count == COUNT and self.all_ready_at is None:
                self.all_ready_at = time.monotonic()

    def run(self) -> None:
        path = f"{GROUP_PATH}/namespaces/{NAMESPACE}/oidcsettings"
        try:
            while True:
                listed = self.kube.json("GET", path, timeout=120)
                for item in listed["items"]:
                    self.note(item)
                version = listed["metadata"]["resourceVersion"]
                while version:
                    version = self.watch(path, version)
        except Exception as error:  # the poll still works; say why the watch stopped
            self.error = f"{type(error).__name__}: {error}"

    def watch(self, path: str, version: str) -> str | None:
        """One watch request; returns the version to resume from, or None to re-list."""
        conn = http.client.HTTPSConnection(self.kube.host, self.kube.port, context=self.kube.context,
                                           timeout=120)
        try:
            conn.request("GET", f"{path}?watch=1&allowWatchBookmarks=true&timeoutSeconds=60"
                                f"&resourceVersion={version}",
                         headers={"Authorization": f"Bearer {self.kube.token}"})
            response = conn.getresponse()
            if response.status != 200:
                return None
            while True:
                line = response.readline()
                if not line:
                    return version
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    return None  # e.g. 410 Gone: list again
                item = event["object"]
                version = item["metadata"].get("resourceVersion", version)
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.note(item)
                elif event["type"] == "DELETED":
                    self.ready.pop(item["metadata"]["name"], None)
        finally:
            conn.close()


def wait_all_ready(stack: Stack, watch: ReadyWatch, t0: float) -> dict:
    """Until all COUNT are Ready, by the watch and by a list (polled every POLL s); times since t0."""
    deadline = t0 + READY_TIMEOUT
    reasons: dict = {}
    list_done_at, list_started_at, list_seconds = None, None, []
    while True:
        check_operator(stack)
        polled = time.monotonic()
        ready, total, reasons = ready_state(stack.kube)
        answered = time.monotonic()
        list_seconds.append(answered - polled)
        try:
            stack.last_operator_metrics = operator_metrics(stack.admin_url)
        except OSError:
            pass
        if not stack.progress or stack.progress[-1][1] != ready:
            stack.progress.append((round(answered - t0, 2), ready))
        if total == COUNT and ready == COUNT:
            list_started_at, list_done_at = polled, answered
            break
        if polled > deadline:
            raise BenchError(f"only {ready}/{COUNT} Ready after {READY_TIMEOUT}s; not ready: {reasons}")
        time.sleep(max(0.0, POLL - (time.monotonic() - polled)))
    with watch.lock:
        changes = list(watch.changes)
        watch_all = watch.all_ready_at

    def first_at(share: float) -> float | None:
        return next((at - t0 for at, count in changes if count >= share * COUNT and count > 0), None)

    return {
        # The watch event that made the count COUNT; without it, the list's answer.
        "all_s": (watch_all if watch_all is not None else list_done_at) - t0,
        "all_s_by": "watch" if watch_all is not None else "list",
        "all_s_list_answer": list_done_at - t0,
        "all_s_list_request": list_started_at - t0,
        "first_s": first_at(1 / COUNT), "half_s": first_at(0.5), "ninety_s": first_at(0.9),
        "list_seconds_max": max(list_seconds), "list_polls": len(list_seconds),
        "watch_error": watch.error,
        "watch_progress": [(round(at - t0, 2), count) for at, count in changes
                           if count in (1, COUNT) or count % 50 == 0],
        "list_progress": stack.progress,
        "at": list_done_at,
    }


def wait_quiet(stack: Stack) -> dict:
    """Until neither a reconcile nor a write of the operator (other than its Lease) happened for QUIET s."""
    started = time.monotonic()
    last_change, last = started, None
    while True:
        check_operator(stack)
        flows = flow_counts(stack.kube)
        current = (operator_metrics(stack.admin_url)["reconcile_runs"],
                   sum(flows.get(n, 0) for n in RECONCILE_WRITE_SCHEMAS))
        now = time.monotonic()
        if current != last:
            last, last_change = current, now
        if now - last_change >= QUIET:
            return {"quiet_after_ready_s": last_change - started, "went_quiet": True}
        if now - started > QUIET_TIMEOUT:
            log(f"the operator did not go quiet within {QUIET_TIMEOUT}s: measuring the window anyway")
            return {"quiet_after_ready_s": None, "went_quiet": False}
        time.sleep(1.0)


def phase(stack: Stack) -> dict:
    """Everything counted, at one moment (before the operator runs, its numbers are zero)."""
    cpu = cpu_snapshot(stack)
    if stack.operator is None:
        cpu["operator"] = 0.0
    return {"t": time.monotonic(), "apiserver": apiserver_snapshot(stack.kube),
            "operator": operator_metrics(stack.admin_url) if stack.operator else operator_metrics_zero(),
            "cpu": cpu, "idp": idp_counts(stack.idp_counts)}


def between(after: dict, before: dict) -> dict:
    flows = diff(after["apiserver"]["flows"], before["apiserver"]["flows"])
    writes = {k.removeprefix("opbench-op-").removesuffix("-writes"): v
              for k, v in flows.items() if k in WRITE_SCHEMAS}
    op_a, op_b = after["operator"], before["operator"]
    runs = op_a["reconcile_runs"] - op_b["reconcile_runs"]
    count = op_a["duration_count"] - op_b["duration_count"]
    buckets = {le: n - op_b["duration_buckets"].get(le, 0) for le, n in op_a["duration_buckets"].items()}
    return {
        "seconds": round(after["t"] - before["t"], 2),
        "operator_writes": writes,
        "operator_writes_total": sum(writes.values()),
        "operator_writes_excluding_lease": sum(v for k, v in writes.items() if k != "lease"),
        "operator_reads": flows.get("opbench-op-reads", 0),
        "all_clients_writes": diff(after["apiserver"]["writes"], before["apiserver"]["writes"]),
        "reconcile_runs": runs,
        "reconcile_failures": diff(op_a["failures"], op_b["failures"]),
        "reconcile_mean_ms": (op_a["duration_sum_s"] - op_b["duration_sum_s"]) * 1000 / count if count else None,
        "reconcile_p50": bucket_quantile(buckets, 0.5) if count else None,
        "reconcile_p99": bucket_quantile(buckets, 0.99) if count else None,
        "cpu_s": cpu_diff(after["cpu"], before["cpu"]),
        "idp_discovery_fetches": after["idp"].get(DISCOVERY_PATH, 0) - before["idp"].get(DISCOVERY_PATH, 0),
    }


def run(stack: Stack) -> dict:
    log("starting etcd and kube-apiserver")
    stack.kube, stack.cluster = start_cluster(stack.workdir)
    kube = stack.kube
    apply_crd(kube)
    kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": NAMESPACE}})
    operator_kube = operator_identity(kube)
    kubeconfig = stack.workdir / "operator-kubeconfig"
    write_operator_kubeconfig(stack.workdir / "kubeconfig", operator_kube.token, kubeconfig)
    log("starting the identity provider")
    start_idp(stack)

    creation = None
    if START == "after":
        log(f"creating {COUNT} client Secrets and {COUNT} OidcSettings ({THREADS} in parallel)")
        creation = stack.creation = create_all(kube, stack.issuer)
        log(f"created in {creation['seconds']:.1f} s; starting the operator")
    watch = stack.watch = ReadyWatch(kube)
    watch.start()
    p_start = stack.p_start = phase(stack)  # before the operator exists: its numbers count as zero
    start_operator(stack, kubeconfig)
    lead_s = time.monotonic() - stack.operator.started_at
    p_start["t"] = stack.operator.started_at
    if START == "before":
        log(f"operator leads after {lead_s:.2f} s; creating {COUNT} client Secrets and {COUNT} OidcSettings")
        creation = stack.creation = create_all(kube, stack.issuer)
        log(f"created in {creation['seconds']:.1f} s")
        t0 = creation["started"]
    else:
        t0 = stack.operator.started_at
    ready = wait_all_ready(stack, watch, t0)
    if START == "before":
        ready["all_after_last_create_s"] = t0 + ready["all_s"] - creation["ended"]
    hwm_at_ready = proc_status(stack.operator.popen.pid).get("VmHWM", 0)
    p_ready = phase(stack)
    log(f"all {COUNT} Ready {ready['all_s']:.1f} s after "
        f"{'the operator started' if START == 'after' else 'the first create'}; waiting until it is quiet")
    quiet = wait_quiet(stack)
    p_quiet = phase(stack)
    versions_before = resource_versions(kube)
    log(f"steady-state window: {SETTLE} s")
    p_window = phase(stack)
    end = time.monotonic() + SETTLE
    while time.monotonic() < end:
        check_operator(stack)
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
    p_end = phase(stack)
    versions_after = resource_versions(kube)
    changed = sorted(k for k in set(versions_before) | set(versions_after)
                     if versions_before.get(k) != versions_after.get(k))
    status = proc_status(stack.operator.popen.pid)
    events = event_census(kube)
    return {
        "events": events,
        "creation": {k: v for k, v in (creation or {}).items() if k not in ("started", "ended")},
        "operator_lead_s": lead_s,
        "ready": {k: v for k, v in ready.items() if k != "at"},
        "quiet": quiet,
        "rss": {
            "peak_kib": status.get("VmHWM", 0),
            "peak_kib_until_ready": hwm_at_ready,
            "end_kib": status.get("VmRSS", 0),
            "peak_sampled_kib": stack.monitor.peak_rss_kib,
            "peak_threads": stack.monitor.peak_threads,
            "end_threads": status.get("Threads", 0),
            "samples_s_kib_threads": stack.monitor.samples,
        },
        "phases": {
            "start_to_ready": between(p_ready, p_start),
            "ready_to_quiet": between(p_quiet, p_ready),
            "steady_window": between(p_end, p_window),
        },
        "steady_window_changed_objects": changed,
        "objects": {k: sum(1 for key in versions_after if key.startswith(k + "/"))
                    for k in ("OidcSettings", "Secret", "ConfigMap", "Event", "Lease")},
    }


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
    mem = 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_mib": mem, "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_at_start": list(os.getloadavg())}


def versions() -> dict:
    def first_line(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "unknown"
    return {"portcullis-operator": first_line([str(BIN_DIR / "portcullis-operator"), "--version"]),
            "kube-apiserver": "kube-apiserver v1.36.3 (tests/tools)",
            "node": "node " + first_line(["node", "--version"])}


def recheck_seconds() -> int:
    """The operator's --recheck-seconds as this run passes it (its default is 300)."""
    for index, arg in enumerate(OPERATOR_ARGS):
        if arg == "--recheck-seconds" and index + 1 < len(OPERATOR_ARGS):
            return int(OPERATOR_ARGS[index + 1])
        if arg.startswith("--recheck-seconds="):
            return int(arg.split("=", 1)[1])
    return int(OPERATOR_ENV.get("PORTCULLIS_RECHECK_SECONDS", "300"))


def targets(result: dict) -> list[dict]:
    ready_s = result["ready"]["all_s"]
    rss = result["rss"]["peak_kib"] / 1024
    window = result["phases"]["steady_window"]
    writes = window["operator_writes_excluding_lease"]
    return [
        {"target": f"{COUNT} OidcSettings Ready within {READY_TARGET_S} s",
         "value": f"{ready_s:.1f} s", "pass": ready_s <= READY_TARGET_S},
        {"target": f"operator peak RSS < {RSS_TARGET_MIB} MiB",
         "value": f"{rss:.1f} MiB", "pass": rss < RSS_TARGET_MIB},
        {"target": f"zero writes in the {SETTLE} s steady-state window (Lease renewals aside)",
         "value": f"{writes:.0f} writes, {window['reconcile_runs']:.0f} reconciles",
         "pass": writes == 0},
    ]


def fmt(value, digits=1, unit=""):
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def markdown(report: dict) -> str:
    m, r, c = report["machine"], report["result"], report["config"]
    start_note = ("the operator started after all objects existed; times from its start"
                  if c["start"] == "after" else
                  "the operator was running before the first create; times from the first create")
    load = ", ".join(f"{x:.2f}" for x in m["loadavg_at_start"])
    lines = [
        "# Portcullis operator benchmark",
        "",
        f"Machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['mem_mib']} MiB, Linux {m['kernel']}, {m['date']} "
        f"(load average at start {load}). Versions: {'; '.join(report['versions'].values())}.",
        f"Setup: {c['count']} OidcSettings in one namespace, each with its own client Secret, "
        f"rootAdmin {c['root_admin']}; all pointing at one identity provider (tests/idp); "
        f"{start_note}. Operator flags: {' '.join(c['operator_args']) or '(defaults)'}"
        f"{''.join(f'; env {k}={v}' for k, v in c['operator_env'].items())}.",
        "",
        "## Results",
        "",
        "| | |",
        "|---|---:|",
    ]
    cr = r["creation"]
    lines.append(f"| create {cr['objects']} objects ({c['threads']} parallel) | {cr['seconds']:.1f} s "
                 f"({cr['objects_per_s']:.0f}/s) |")
    rd = r["ready"]
    lines += [
        f"| operator start to leader | {r['operator_lead_s']:.2f} s |",
        f"| first Ready | {fmt(rd['first_s'])} s |",
        f"| 50 % Ready | {fmt(rd['half_s'])} s |",
        f"| 90 % Ready | {fmt(rd['ninety_s'])} s |",
        f"| **all {c['count']} Ready** (when the {rd['all_s_by']} showed it) | **{rd['all_s']:.1f} s** |",
        f"| all Ready by the list poll: request sent / answered | {rd['all_s_list_request']:.1f} s / "
        f"{rd['all_s_list_answer']:.1f} s (slowest list {rd['list_seconds_max']:.1f} s) |",
    ]
    if "all_after_last_create_s" in rd:
        lines.append(f"| all Ready after the last create | {rd['all_after_last_create_s']:.1f} s |")
    rss = r["rss"]
    quiet = r["quiet"]
    lines += [
        f"| **operator peak RSS (VmHWM)** | **{rss['peak_kib'] / 1024:.1f} MiB** |",
        f"| operator RSS at the end | {rss['end_kib'] / 1024:.1f} MiB |",
        f"| operator threads: peak / end | {rss['peak_threads']} / {rss['end_threads']} |",
        f"| last reconcile or write seen after all Ready | "
        f"{fmt(quiet['quiet_after_ready_s'])} s{'' if quiet['went_quiet'] else ' (never went quiet)'} |",
        "",
        "## The operator's requests and reconciles, by phase",
        "",
        "| | start → all Ready | all Ready → quiet | steady window |",
        "|---|---:|---:|---:|",
    ]
    phases = [r["phases"][k] for k in ("start_to_ready", "ready_to_quiet", "steady_window")]
    kinds = sorted({k for p in phases for k in p["operator_writes"]})
    lines.append("| seconds | " + " | ".join(f"{p['seconds']:.1f}" for p in phases) + " |")
    lines.append("| **writes (Lease aside)** | " + " | ".join(
        f"**{p['operator_writes_excluding_lease']:.0f}**" for p in phases) + " |")
    for kind in kinds:
        lines.append(f"| — {kind} | " + " | ".join(f"{p['operator_writes'].get(kind, 0):.0f}" for p in phases) + " |")
    lines.append("| reads (incl. watches) | " + " | ".join(f"{p['operator_reads']:.0f}" for p in phases) + " |")
    lines.append("| reconcile runs | " + " | ".join(f"{p['reconcile_runs']:.0f}" for p in phases) + " |")
    lines.append("| reconcile failures | " + " | ".join(
        (", ".join(f"{k} {v:.0f}" for k, v in p["reconcile_failures"].items()) or "0") for p in phases) + " |")
    lines.append("| reconcile mean / p50 / p99 | " + " | ".join(
        f"{fmt(p['reconcile_mean_ms'], 0)} ms / {p['reconcile_p50'] or 'n/a'} / {p['reconcile_p99'] or 'n/a'}"
        for p in phases) + " |")
    lines.append("| discovery fetches at the IdP | " + " | ".join(
        f"{p['idp_discovery_fetches']:.0f}" for p in phases) + " |")
    for proc in ("operator", "kube-apiserver", "etcd", "idp"):
        lines.append(f"| CPU s: {proc} | " + " | ".join(fmt(p["cpu_s"].get(proc), 2) for p in phases) + " |")
    win = r["phases"]["steady_window"]
    ev = r["events"]
    lines += [
        "",
        f"Events in the namespace at the end: {ev['occurrences']} occurrences on {ev['objects']} objects "
        f"(reasons: {', '.join(f'{k} {v}' for k, v in ev['by_reason'].items())}; objects by number of "
        f"occurrences: {', '.join(f'{k}: {v}' for k, v in ev['objects_by_occurrences'].items())}). "
        f"Most frequent: {'; '.join(f'{v}× {k}' for k, v in ev['top_messages'].items())}.",
        "",
        "Writes are the operator's own requests (create/update/patch/delete, including "
        "server-side applies that change nothing), counted by the API server under FlowSchemas "
        "that match only the operator's ServiceAccount. Objects whose resourceVersion changed "
        f"in the steady window: {len(r['steady_window_changed_objects'])} "
        f"({', '.join(r['steady_window_changed_objects'][:8]) or 'none'}). "
        "All clients' writes in the window, from `apiserver_request_total` (the API server's own "
        "identity Lease included; the benchmark itself only reads then): "
        f"{', '.join(f'{k} {v:.0f}' for k, v in win['all_clients_writes'].items()) or 'none'}.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---:|---|",
    ]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {t['value']} | {'pass' if t['pass'] else '**miss**'} |")
    if c["settle_s"] < recheck_seconds():
        lines += ["", f"The {c['settle_s']} s window is shorter than the operator's re-check interval "
                      f"({recheck_seconds()} s), so it cannot see the periodic re-check of every "
                      f"OidcSettings; `OPBENCH_SETTLE={recheck_seconds() + 30}` includes one."]
    return "\n".join(lines) + "\n"


def config() -> dict:
    return {"label": LABEL, "count": COUNT, "threads": THREADS, "start": START, "root_admin": ROOT_ADMIN,
            "settle_s": SETTLE, "quiet_s": QUIET, "poll_s": POLL, "rss_limit_mib": RSS_LIMIT_MIB,
            "operator_args": OPERATOR_ARGS, "operator_env": OPERATOR_ENV, "bin_dir": str(BIN_DIR),
            "loadavg_at_end": list(os.getloadavg())}


def failure_report(stack: Stack, host: dict, error: str) -> dict | None:
    """What a failed run measured before it stopped (None if the operator never ran)."""
    if stack.operator is None:
        return None
    partial = {
        "creation": {k: v for k, v in (stack.creation or {}).items() if k not in ("started", "ended")},
        "ready_progress": stack.progress,
        "ready_watch_progress": [] if stack.watch is None else [
            (round(at - (stack.operator.started_at if START == "after" else (stack.creation or {}).get("started", 0)), 2), n)
            for at, n in list(stack.watch.changes) if n % 50 == 0 or n == COUNT],
        "operator_exit": stack.operator.popen.poll(),
        "killed_over_rss_limit": bool(stack.monitor and stack.monitor.killed_over_limit),
    }
    if stack.monitor:
        partial["rss"] = {"peak_sampled_kib": stack.monitor.peak_rss_kib,
                          "peak_threads": stack.monitor.peak_threads,
                          "samples_s_kib_threads": stack.monitor.samples}
    if stack.p_start is not None:
        try:
            now = phase(stack) if stack.operator.popen.poll() is None else None
        except (BenchError, OSError):
            now = None
        if now is None:  # the operator is gone: the API server's counts still hold
            try:
                now = {"t": time.monotonic(), "apiserver": apiserver_snapshot(stack.kube),
                       "operator": stack.last_operator_metrics or operator_metrics_zero(),
                       "cpu": {**cpu_snapshot(stack), "operator": stack.monitor.last_cpu_s},
                       "idp": idp_counts(stack.idp_counts)}
            except (BenchError, OSError):
                now = None
        if now is not None:
            partial["start_to_failure"] = between(now, stack.p_start)
    return {"machine": host, "versions": versions(), "config": config(), "failed": error,
            "partial": partial}


def failure_markdown(report: dict) -> str:
    m, c, p = report["machine"], report["config"], report["partial"]
    load = ", ".join(f"{x:.2f}" for x in m["loadavg_at_start"])
    lines = [
        "# Portcullis operator benchmark: the run did not complete",
        "",
        f"Machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['mem_mib']} MiB, Linux {m['kernel']}, {m['date']} "
        f"(load average at start {load}). Setup: {c['count']} OidcSettings, rootAdmin {c['root_admin']}, "
        f"operator started {c['start']} creation, flags: {' '.join(c['operator_args']) or '(defaults)'}"
        f"{''.join(f'; env {k}={v}' for k, v in c['operator_env'].items())}.",
        "",
        f"**Stopped:** {report['failed'].splitlines()[0]}",
        "",
        "| | |",
        "|---|---:|",
    ]
    if p.get("creation"):
        cr = p["creation"]
        lines.append(f"| create {cr['objects']} objects ({c['threads']} parallel) | {cr['seconds']:.1f} s |")
    if p.get("ready_progress"):
        at, ready = p["ready_progress"][-1]
        lines.append(f"| Ready when it stopped | {ready}/{c['count']} (last change at {at:.1f} s) |")
    if p.get("ready_watch_progress"):
        at, ready = p["ready_watch_progress"][-1]
        lines.append(f"| Ready by the watch | {ready}/{c['count']} at {at:.1f} s |")
    rss = p.get("rss")
    if rss:
        lines.append(f"| operator peak RSS (sampled every 0.1 s) | {rss['peak_sampled_kib'] / 1024:.0f} MiB"
                     f"{' (killed at the limit)' if p['killed_over_rss_limit'] else ''} |")
        lines.append(f"| operator peak threads | {rss['peak_threads']} |")
        for at, kib, threads in rss["samples_s_kib_threads"][::max(1, len(rss["samples_s_kib_threads"]) // 12)]:
            lines.append(f"| RSS / threads at {at:.0f} s | {kib / 1024:.0f} MiB / {threads} |")
    f = p.get("start_to_failure")
    if f:
        lines += [
            f"| writes until then (Lease aside) | {f['operator_writes_excluding_lease']:.0f} "
            f"({', '.join(f'{k} {v:.0f}' for k, v in f['operator_writes'].items())}) |",
            f"| reconcile runs until then | {f['reconcile_runs']:.0f} |",
            f"| discovery fetches at the IdP | {f['idp_discovery_fetches']:.0f} |",
            f"| CPU s until then | {', '.join(f'{k} {v:.1f}' for k, v in f['cpu_s'].items())} |",
        ]
    # The targets, as far as the run got.
    samples = (rss or {}).get("samples_s_kib_threads") or [(0, 0, 0)]
    stopped_s = samples[-1][0]
    ready = (p.get("ready_watch_progress") or p.get("ready_progress") or [(0, 0)])[-1][1]
    peak = (rss or {}).get("peak_sampled_kib", 0) / 1024
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---:|---|",
        f"| {c['count']} OidcSettings Ready within {READY_TARGET_S} s | {ready}/{c['count']} Ready when it "
        f"stopped, {stopped_s:.0f} s after the operator started | "
        f"{('**miss** (stopped at the memory limit first)' if p['killed_over_rss_limit'] else '**miss**') if ready < c['count'] and stopped_s < READY_TARGET_S else 'not measured'} |",
        f"| operator peak RSS < {RSS_TARGET_MIB} MiB | {'more than ' if p['killed_over_rss_limit'] else ''}"
        f"{peak:.0f} MiB | {'**miss**' if peak >= RSS_TARGET_MIB else 'not measured'} |",
        "| zero writes in the steady-state window | the run did not get there | not measured |",
    ]
    return "\n".join(lines) + "\n"


# === main ===

def on_alarm(signum, frame):
    raise BenchError(f"the benchmark took longer than OPBENCH_TIMEOUT={TIMEOUT}s")


def preflight() -> None:
    if START not in ("after", "before"):
        raise BenchError("OPBENCH_START must be `after` or `before`")
    if ROOT_ADMIN not in ("generated", "none"):
        raise BenchError("OPBENCH_ROOT_ADMIN must be `generated` or `none`")
    if not (BIN_DIR / "portcullis-operator").is_file():
        raise BenchError(f"{BIN_DIR / 'portcullis-operator'} is missing: run "
                         "`cargo build --release -p portcullis-operator` (or set OPBENCH_BIN_DIR)")
    if not (ROOT / "tests/idp/node_modules").is_dir():
        raise BenchError("tests/idp/node_modules is missing: run `npm ci --prefix tests/idp`")
    for tool in ("openssl", "curl", "setsid", "node"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is required")


def main() -> int:
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.iterdir():
        if old.is_file():
            old.unlink()
    host = machine()
    workdir = Path(tempfile.mkdtemp(prefix="portcullis-opbench-"))
    stack = Stack(workdir=workdir)
    report = None
    try:
        preflight()
        signal.alarm(TIMEOUT)
        result = run(stack)
        report = {"machine": host, "versions": versions(), "config": config(), "result": result}
        report["targets"] = targets(result)
    except BenchError as error:
        log(f"FAILED: {error}")
        report = failure_report(stack, host, str(error))
    finally:
        signal.alarm(0)
        if stack.monitor:
            stack.monitor.stopping.set()
        stop_all()
        try:
            stop_cluster(workdir)
        except Exception as error:
            log(f"could not stop the cluster in {workdir}: {error}")
        for name in ("kube-apiserver.log", "etcd.log"):
            if (workdir / name).is_file():
                shutil.copy(workdir / name, WORK / name)
        if not os.environ.get("OPBENCH_KEEP_CLUSTER"):
            shutil.rmtree(workdir, ignore_errors=True)
    if report is None:
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{LABEL}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = failure_markdown(report) if "failed" in report else markdown(report)
    (RESULTS / f"{LABEL}.md").write_text(text)
    print(text)
    log(f"wrote {RESULTS / f'{LABEL}.json'} and {RESULTS / f'{LABEL}.md'}")
    return 1 if "failed" in report else 0


if __name__ == "__main__":
    sys.exit(main())
