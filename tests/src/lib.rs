//! Test harness: real processes on loopback, started and stopped per test.
//!
//! - [`idp::Idp`]: the OpenID-certified `oidc-provider` npm package (`tests/idp`).
//! - [`api_clients`]: client-credentials clients at the provider, and keys
//!   to forge tokens with.
//! - [`echo::Echo`]: a small app that echoes what it receives.
//! - [`guarded::Guarded`]: the echo app behind a sidecar, with sessions
//!   sealed by the sidecar's own keys (no provider needed).
//! - [`sidecar::Sidecar`]: the `portcullis-sidecar` binary with a config
//!   written through the sidecar's own config types.
//! - [`browser::Browser`]: an HTTP client with a cookie jar that logs in by
//!   posting the provider's forms, following redirects one at a time.
//! - [`webdriver::Chromium`]: a real headless Chromium driven through the
//!   `fantoccini` WebDriver client.
//! - [`kube`]: a real kube-apiserver and etcd, and the operator binary.
//! - [`dex::Dex`]: a real Dex; [`form_login`] signs in through a real
//!   provider's own login form.
//! - [`keycloak::Keycloak`]: a real Keycloak, one per test binary.
//! - [`cluster`]: a real single-node Kubernetes cluster that runs pods,
//!   shared by a test binary's tests.
//! - [`image`]: container image archives built from a Dockerfile's final
//!   stage without a registry.
//! - [`helm::Helm`]: Helm 3 and Helm 4 run on `charts/portcullis`.
//! - [`role_login`]: one sign-in per role through a real provider, checking
//!   the identity the app receives.
//! - [`redis::Redis`]: a real `redis-server` for the session store, with
//!   its faults (paused, restarted empty, a password, TLS);
//!   [`redis_sentinel::SentinelSet`]: a primary, a replica and a Sentinel
//!   that fails over.
//! - [`tools`]: the cache of tools `make test` builds or fetches.
//! - [`process`]: helper processes started within a bound, and reapers
//!   for what a test process leaves; [`poll`]: polling until a check holds.

pub mod api_clients;
pub mod browser;
pub mod certificate;
pub mod chart_readme;
pub mod cluster;
pub mod dex;
pub mod echo;
pub mod form_login;
pub mod guarded;
pub mod helm;
pub mod idp;
pub mod image;
pub mod keycloak;
pub mod keycloak_admin;
pub mod kube;
pub mod markdown;
pub mod nginx;
pub mod poll;
pub mod process;
pub mod redis;
pub mod redis_cluster;
pub mod redis_sentinel;
pub mod role_login;
pub mod sidecar;
pub mod stack;
pub mod store_replicas;
pub mod tools;
pub mod webdriver;
