//! The session cookie each caller of the gate's table of request vectors
//! carries in the end-to-end tests, sealed under a running sidecar's keys.
//! Included by the tests that run the table through a door
//! (`forward_auth_nginx.rs`, `forward_auth_envoy_grpc.rs`).

use crate::gate_table::Who;
use anyhow::Result;
use portcullis_e2e::guarded::sealed_cookie_for;
use portcullis_e2e::sidecar::Sidecar;
use portcullis_sidecar::access::roles::Role;

/// A session cookie `sidecar` opens for `who` (`None` for nobody).
pub fn table_cookie(sidecar: &Sidecar, who: Who) -> Result<Option<String>> {
    let (user, caller) = match who {
        Who::Nobody => return Ok(None),
        Who::Untrusted => ("ursula", (Role::Untrusted, false)),
        Who::Trusted => ("trudy", (Role::Trusted, false)),
        Who::Admin => ("alice", (Role::Admin, false)),
        Who::Root => ("root", (Role::Admin, true)),
    };
    sealed_cookie_for(sidecar, user, caller).map(Some)
}
