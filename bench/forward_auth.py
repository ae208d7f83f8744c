"""The forward-auth door next to oauth2-proxy's `/oauth2/auth`: the question
an ingress asks before each request, with a valid session cookie.

Both answer `GET` with the original request named in `X-Original-URL` and
`X-Original-Method` (as ingress-nginx's `auth-url` sends them; oauth2-proxy
reads neither) and the session cookie; both answer 2xx with the identity
headers and no body. Nothing here starts a process or runs a load: run.py
does, with what this module says.
"""

from __future__ import annotations

from dataclasses import dataclass

# The two targets, in the order they are measured.
TARGETS = ["forward-auth", "oauth2-proxy-auth"]
# Connections of the throughput comparison.
CONNECTIONS = 64


@dataclass
class Question:
    """Where a target is asked, and the headers beside the cookie."""
    url: str
    headers: list[str]


def config(port: int, admin_port: int, public_port: int, issuer: str, client_id: str,
           files: dict) -> str:
    """A forward-auth sidecar answering 127.0.0.1, with the proxying sidecar's
    keys and public URL, so the proxying sidecar's session cookie opens here."""
    return f"""listen: 127.0.0.1:{port}
adminListen: 127.0.0.1:{admin_port}
forwardAuth: {{}}
trustedProxies: [127.0.0.1]
publicUrl: http://127.0.0.1:{public_port}
oidc:
  wellKnownUrl: {issuer}/.well-known/openid-configuration
  clientId: {client_id}
  clientSecretFile: {files['secret']}
  scopes: [openid, profile, email, groups]
session:
  keyFile: {files['keys']}
"""


def questions(forward_port: int, o2p_port: int, public_port: int, path: str) -> dict[str, Question]:
    """Each target's question about `GET <path>` on the public URL."""
    original = [f"X-Original-URL: http://127.0.0.1:{public_port}{path}", "X-Original-Method: GET"]
    return {
        "forward-auth": Question(f"http://127.0.0.1:{forward_port}/auth/verify", original),
        "oauth2-proxy-auth": Question(f"http://127.0.0.1:{o2p_port}/oauth2/auth", original),
    }


def targets(runs: dict[str, dict], fixed: dict[str, dict], rate: int,
            app_p99_us: float) -> list[dict]:
    """3x oauth2-proxy's answers per second at 64 connections, and a
    decision's p99 under 1 ms at a fixed rate. `app_p99_us` is the echo
    app's own p99 at that rate (`direct`): when the machine cannot answer
    even 2 bytes within 1 ms at p99, the latency target has no verdict."""
    ours, theirs = runs["forward-auth"]["rps"], runs["oauth2-proxy-auth"]["rps"]
    ratio = ours / theirs if theirs else 0.0
    p99 = fixed["forward-auth"]["latency_us"]["p99"]
    verdict = None if app_p99_us >= 1000 and p99 >= 1000 else p99 < 1000
    return [
        {"target": f"forward-auth answers >= 3x oauth2-proxy's /oauth2/auth at {CONNECTIONS} connections",
         "value": f"{ratio:.2f}x", "pass": ratio >= 3.0},
        {"target": f"forward-auth decision p99 < 1 ms at {rate:,} req/s",
         "value": f"{_us(p99)} (the app alone: {_us(app_p99_us)})", "pass": verdict},
    ]


def markdown(runs: dict[str, dict], fixed: dict[str, dict], rate: int) -> list[str]:
    """The section of the report."""
    lines = [
        "",
        "## Forward-auth: the question an ingress asks",
        "",
        f"`GET /auth/verify` (Portcullis with `forwardAuth`) and `GET /oauth2/auth` (oauth2-proxy), "
        f"each with its session cookie and ingress-nginx's `X-Original-URL` and `X-Original-Method`; "
        f"wrk at {CONNECTIONS} connections, and oha at {rate:,} req/s over {CONNECTIONS} connections.",
        "",
        "| target | req/s (wrk) | p50 | p99 | req/s (fixed) | p50 | p99 | p99.9 | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        run, at_rate = runs[target], fixed[target]
        lat, fixed_lat = run["latency_us"], at_rate["latency_us"]
        errors = sum(run["errors"].values()) + sum(at_rate["errors"].values())
        lines.append(
            f"| {target} | {run['rps']:,.0f} | {_us(lat['p50'])} | {_us(lat['p99'])} | "
            f"{at_rate['rps']:,.0f} | {_us(fixed_lat['p50'])} | {_us(fixed_lat['p99'])} | "
            f"{_us(fixed_lat['p99.9'])} | {errors} |"
        )
    return lines


def _us(us: float) -> str:
    return f"{us / 1000:.2f} ms" if abs(us) >= 1000 else f"{us:.0f} µs"
