//! Reading and writing the Lease; every write carries the resourceVersion read.

use super::decision::{Decision, LeaseView, decide};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use std::time::Duration;

/// Errors talking to the API server about the Lease.
#[derive(Debug, thiserror::Error)]
#[error("lease {name}: {source}")]
pub struct Error {
    name: String,
    #[source]
    source: kube::Error,
}

/// Result with the lease [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One candidate for one Lease.
#[derive(Clone)]
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl Elector {
    /// A candidate `identity` for Lease `name` valid `duration` after each renewal.
    pub fn new(api: Api<Lease>, name: String, identity: String, duration: Duration) -> Self {
        Self {
            api,
            name,
            identity,
            duration,
        }
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Tries once to acquire or renew; `Ok(true)` when this candidate now leads.
    pub async fn try_lead(&self) -> Result<bool> {
        let now = Timestamp::now();
        let existing = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error(e))?;
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, now, 0)),
            };
            return self.write(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let view = LeaseView {
            holder: spec.holder_identity.clone(),
            renewed: spec.renew_time.as_ref().map(|t| t.0),
            duration_seconds: spec.lease_duration_seconds,
        };
        let next = match decide(&view, &self.identity, now) {
            Decision::Wait => return Ok(false),
            Decision::Renew => {
                let acquired = spec.acquire_time.map_or(now, |t| t.0);
                self.spec(acquired, now, spec.lease_transitions.unwrap_or(0))
            }
            Decision::TakeOver => self.spec(now, now, spec.lease_transitions.unwrap_or(0) + 1),
        };
        lease.spec = Some(next);
        self.write(
            self.api
                .replace(&self.name, &PostParams::default(), &lease)
                .await,
        )
    }

    /// Gives the Lease up (if still held) so another replica takes over at once.
    pub async fn release(&self) -> Result<()> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        self.write(
            self.api
                .replace(&self.name, &PostParams::default(), &lease)
                .await,
        )
        .map(|_| ())
    }

    fn spec(&self, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(i32::try_from(self.duration.as_secs()).unwrap_or(15)),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// A conflict means another candidate wrote first: not leading, not an error.
    fn write(&self, result: Result<Lease, kube::Error>) -> Result<bool> {
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(self.error(error)),
        }
    }

    fn error(&self, source: kube::Error) -> Error {
        Error {
            name: self.name.clone(),
            source,
        }
    }
}
