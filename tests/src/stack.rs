//! The whole login path on loopback: provider, echo app and sidecar.

use crate::echo::Echo;
use crate::idp::Idp;
use crate::sidecar::{Sidecar, SidecarSetup, reserve_public_url};
use anyhow::Result;

/// Provider, app and sidecar, wired together; all stopped on drop.
pub struct Stack {
    /// The identity provider.
    pub idp: Idp,
    /// The app behind the sidecar.
    pub echo: Echo,
    /// The sidecar under test.
    pub sidecar: Sidecar,
}

impl Stack {
    /// Starts everything with the default test config.
    pub async fn start() -> Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Starts everything, letting `tweak` change the sidecar's setup first.
    pub async fn start_with(tweak: impl FnOnce(&mut SidecarSetup)) -> Result<Self> {
        Self::start_with_provider(async |public_url| Idp::start(public_url).await, tweak).await
    }

    /// Starts everything with the provider `start_idp` starts for the
    /// sidecar's public URL.
    pub async fn start_with_provider(
        start_idp: impl AsyncFnOnce(&str) -> Result<Idp>,
        tweak: impl FnOnce(&mut SidecarSetup),
    ) -> Result<Self> {
        let (port, public_url) = reserve_public_url();
        let idp = start_idp(&public_url).await?;
        let echo = Echo::start().await?;
        let mut setup = SidecarSetup::new(port, &idp.well_known_url(), &echo.url)?;
        tweak(&mut setup);
        let sidecar = setup.start().await?;
        Ok(Self { idp, echo, sidecar })
    }

    /// Starts everything with the provider of [`Idp::start_for_api`] (API
    /// clients, signing with the PEM key at `signing_key`).
    pub async fn start_for_api(
        signing_key: &std::path::Path,
        tweak: impl FnOnce(&mut SidecarSetup),
    ) -> Result<Self> {
        Self::start_with_provider(
            async |public_url| Idp::start_for_api(public_url, signing_key).await,
            tweak,
        )
        .await
    }

    /// A URL on the sidecar.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sidecar.url())
    }
}
