//! Who may try the root admin's password now: the budgets of the backup login.
//!
//! The backup login exists for the day the identity provider fails, so an
//! attacker must not be able to keep the root admin out of it. Budgets:
//! - **unknown clients**: per client (an IPv4 address, or an IPv6 /64, which
//!   one subscriber usually holds whole) and, together, an overall budget,
//!   so neither one address nor many can guess quickly;
//! - **known devices**: a browser that completed a backup login before holds
//!   a sealed device cookie; its attempts draw on that device's own budget
//!   and never on the shared ones. An attacker cycling addresses (or sharing
//!   an ingress's address with everyone) empties only the shared budgets;
//!   the root admin's browser still gets in;
//! - **enrolling browsers**: a browser that sends the one-time enrolment
//!   code (see [`crate::backup::enrolment`]) draws on a budget per client
//!   only. The code is not guessable, so there is no overall bound that an
//!   attacker could empty for everyone. Each code enrols one browser.
//!
//! Time is passed in, so the decisions are tested without sleeping.

use crate::backup::rate_limit::{Rate, RateLimiter};
use crate::session::revoked::sid_digest;
use crate::session::store::buckets::StoredBucket;
use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

/// Attempts per unknown client: 5 at once, then one every 12 s.
const PER_CLIENT: Rate = Rate {
    burst: 5.0,
    seconds_per_attempt: 12.0,
};
/// Attempts of all unknown clients together: 20 at once, then one every 3 s.
const OVERALL: Rate = Rate {
    burst: 20.0,
    seconds_per_attempt: 3.0,
};
/// Attempts per known device: 5 at once, then one every 12 s.
const PER_DEVICE: Rate = Rate {
    burst: 5.0,
    seconds_per_attempt: 12.0,
};
/// No overall bound beyond the budgets of each device or enrolling client.
const UNBOUNDED: Rate = Rate {
    burst: 1e9,
    seconds_per_attempt: 1e-9,
};
/// Clients and devices remembered.
const MAX_REMEMBERED: usize = 10_000;

/// Who is attempting a backup login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempter {
    /// A browser without a device cookie, from this client address.
    Unknown(IpAddr),
    /// A browser that completed a backup login before (its device id).
    KnownDevice(String),
    /// A browser sending an enrolment code, from this client address.
    Enrolling(IpAddr),
}

/// The backup login's budgets.
#[derive(Debug)]
pub struct BackupGate {
    clients: RateLimiter<IpAddr>,
    devices: RateLimiter<String>,
    enrolling: RateLimiter<IpAddr>,
    /// Hashes of the enrolment codes that enrolled a browser already.
    spent_codes: HashSet<String>,
}

impl Default for BackupGate {
    fn default() -> Self {
        Self {
            clients: RateLimiter::new(PER_CLIENT, OVERALL, MAX_REMEMBERED),
            devices: RateLimiter::new(PER_DEVICE, UNBOUNDED, MAX_REMEMBERED),
            enrolling: RateLimiter::new(PER_CLIENT, UNBOUNDED, MAX_REMEMBERED),
            spent_codes: HashSet::new(),
        }
    }
}

impl BackupGate {
    /// Takes one attempt at `now` (seconds), or says how long to wait.
    pub fn try_attempt(&mut self, who: &Attempter, now: f64) -> Result<(), Duration> {
        match who {
            Attempter::Unknown(ip) => self.clients.try_acquire(&client_group(*ip), now),
            Attempter::KnownDevice(id) => self.devices.try_acquire(id, now),
            Attempter::Enrolling(ip) => self.enrolling.try_acquire(&client_group(*ip), now),
        }
    }

    /// Spends the enrolment code hashed as `phc`: true the first time only.
    pub fn spend_code(&mut self, phc: &str) -> bool {
        self.spent_codes.insert(phc.to_owned())
    }
}

/// The buckets in the session store that `who` draws on: its own, and the
/// shared one unknown clients all draw on. Device ids are hashed: the store
/// never holds what a device cookie carries.
pub fn stored_buckets(who: &Attempter) -> (StoredBucket, Option<StoredBucket>) {
    let bucket = |name: String, rate: Rate| StoredBucket {
        name,
        burst: rate.burst,
        seconds_per_attempt: rate.seconds_per_attempt,
    };
    match who {
        Attempter::Unknown(ip) => (
            bucket(format!("backup:client:{}", client_group(*ip)), PER_CLIENT),
            Some(bucket("backup:overall".into(), OVERALL)),
        ),
        Attempter::KnownDevice(id) => (
            bucket(format!("backup:device:{}", sid_digest(id)), PER_DEVICE),
            None,
        ),
        Attempter::Enrolling(ip) => (
            bucket(
                format!("backup:enrolling:{}", client_group(*ip)),
                PER_CLIENT,
            ),
            None,
        ),
    }
}

/// The store's name for an enrolment code hashed as `phc`, once spent.
pub fn spent_code_name(phc: &str) -> String {
    format!("backup:spent-code:{}", sid_digest(phc))
}

/// The address that stands for a client: IPv6 grouped by /64.
pub fn client_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(ip: &str) -> Attempter {
        Attempter::Unknown(ip.parse().expect("ip"))
    }

    #[test]
    fn an_attacker_cycling_addresses_cannot_keep_a_known_device_out() {
        let mut gate = BackupGate::default();
        for n in 0..200u32 {
            let _ = gate.try_attempt(&unknown(&format!("10.0.{}.{}", n / 250, n % 250)), 0.0);
        }
        assert!(gate.try_attempt(&unknown("10.9.9.9"), 0.0).is_err());
        assert!(
            gate.try_attempt(&Attempter::KnownDevice("root-laptop".into()), 0.0)
                .is_ok()
        );
    }

    #[test]
    fn stored_buckets_follow_the_same_policy_and_hold_no_device_id() {
        let (own, shared) = stored_buckets(&unknown("2001:db8::1"));
        assert_eq!(own.name, "backup:client:2001:db8::");
        assert_eq!(
            (own.burst, own.seconds_per_attempt),
            (PER_CLIENT.burst, PER_CLIENT.seconds_per_attempt)
        );
        assert_eq!(shared.map(|shared| shared.burst), Some(OVERALL.burst));
        let (own, shared) = stored_buckets(&Attempter::KnownDevice("device-secret".into()));
        assert!(!own.name.contains("device-secret"), "{}", own.name);
        assert_eq!(shared, None);
        let (own, shared) = stored_buckets(&Attempter::Enrolling("192.0.2.1".parse().expect("ip")));
        assert_eq!(own.name, "backup:enrolling:192.0.2.1");
        assert_eq!(shared, None, "no shared budget an attacker could empty");
        assert!(!spent_code_name("$argon2id$v=19$secret").contains("secret"));
    }

    #[test]
    fn a_known_device_has_its_own_bounded_budget() {
        let mut gate = BackupGate::default();
        let device = Attempter::KnownDevice("d".into());
        for _ in 0..5 {
            assert!(gate.try_attempt(&device, 0.0).is_ok());
        }
        assert_eq!(gate.try_attempt(&device, 0.0), Err(Duration::from_secs(12)));
    }

    #[test]
    fn enrolling_is_bounded_per_client_and_never_by_the_shared_budget() {
        let mut gate = BackupGate::default();
        for n in 0..200u32 {
            let _ = gate.try_attempt(&unknown(&format!("10.0.{}.{}", n / 250, n % 250)), 0.0);
            let ip = format!("10.1.{}.{}", n / 250, n % 250);
            let _ = gate.try_attempt(&Attempter::Enrolling(ip.parse().expect("ip")), 0.0);
        }
        let admin = Attempter::Enrolling("192.0.2.7".parse().expect("ip"));
        for _ in 0..5 {
            assert!(gate.try_attempt(&admin, 0.0).is_ok());
        }
        assert_eq!(gate.try_attempt(&admin, 0.0), Err(Duration::from_secs(12)));
    }

    #[test]
    fn a_code_is_spent_once() {
        let mut gate = BackupGate::default();
        assert!(gate.spend_code("$argon2id$a"));
        assert!(!gate.spend_code("$argon2id$a"));
        assert!(gate.spend_code("$argon2id$b"));
    }

    #[test]
    fn one_ipv6_subscriber_counts_as_one_client() {
        let mut gate = BackupGate::default();
        for host in 1..=5 {
            assert!(
                gate.try_attempt(&unknown(&format!("2001:db8::{host}")), 0.0)
                    .is_ok()
            );
        }
        assert!(gate.try_attempt(&unknown("2001:db8::ffff:1"), 0.0).is_err());
        assert!(gate.try_attempt(&unknown("2001:db8:0:1::1"), 0.0).is_ok());
        assert_eq!(
            client_group("::ffff:192.0.2.1".parse().expect("ip")),
            "192.0.2.1".parse::<IpAddr>().expect("ip")
        );
    }
}
