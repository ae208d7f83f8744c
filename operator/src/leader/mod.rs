//! Leader election on a `coordination.k8s.io/v1` Lease.
//!
//! kube-runtime ships no elector, so this is a small one: `decision` says
//! what to do with a Lease as read (pure), `lease` reads and writes it with
//! optimistic concurrency (resourceVersion), so two replicas never both lead.

pub mod decision;
pub mod lease;
#[cfg(test)]
mod tests;
