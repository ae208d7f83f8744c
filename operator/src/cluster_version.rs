//! The API server's Kubernetes version, as far as the operator's warnings
//! need it: what the cluster can and cannot do with the injected sidecar.
//!
//! Read once at start-up (`/version`); managed clusters write the minor
//! version with a suffix (`32+` on EKS and GKE), which is read as its
//! number.

use k8s_openapi::apimachinery::pkg::version::Info;

/// A Kubernetes `major.minor` version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClusterVersion {
    /// The major version (1).
    pub major: u32,
    /// The minor version.
    pub minor: u32,
}

/// The first version whose EndpointSlices resolve a named port of a native
/// sidecar (an init container with `restartPolicy: Always`), which the
/// injected sidecar is: kubernetes/kubernetes#127958, fixed by #128850 and
/// not backported.
pub const RESOLVES_NAMED_SIDECAR_PORTS: ClusterVersion = ClusterVersion {
    major: 1,
    minor: 33,
};

impl ClusterVersion {
    /// The version `/version` reports, when its numbers can be read.
    pub fn of(info: &Info) -> Option<Self> {
        Some(Self {
            major: leading_number(&info.major)?,
            minor: leading_number(&info.minor)?,
        })
    }

    /// Whether a Service's `targetPort` may name the sidecar's port.
    pub fn resolves_named_sidecar_ports(self) -> bool {
        self >= RESOLVES_NAMED_SIDECAR_PORTS
    }
}

impl std::fmt::Display for ClusterVersion {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}.{}", self.major, self.minor)
    }
}

/// The number `text` starts with (`32` for `32+`).
fn leading_number(text: &str) -> Option<u32> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    text[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(major: &str, minor: &str) -> Info {
        Info {
            major: major.to_owned(),
            minor: minor.to_owned(),
            ..Info::default()
        }
    }

    #[test]
    fn managed_clusters_suffixed_minor_versions_are_read_as_their_number() {
        assert_eq!(
            ClusterVersion::of(&info("1", "32+")),
            Some(ClusterVersion {
                major: 1,
                minor: 32
            })
        );
        assert_eq!(ClusterVersion::of(&info("1", "")), None);
        assert_eq!(ClusterVersion::of(&info("", "33")), None);
    }

    #[test]
    fn named_sidecar_ports_resolve_from_1_33() {
        let resolves = |minor: &str| {
            ClusterVersion::of(&info("1", minor))
                .expect("a version")
                .resolves_named_sidecar_ports()
        };
        assert!(!resolves("31"));
        assert!(!resolves("32+"));
        assert!(resolves("33"));
        assert!(resolves("36"));
    }
}
