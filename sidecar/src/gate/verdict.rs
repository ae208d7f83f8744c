//! What happens to a request, given the access it needs and who is calling.

use crate::access::roles::Role;
use portcullis_contract::access::Access;

/// Who is calling, as far as access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The caller's role.
    pub role: Role,
    /// True for the root admin.
    pub root: bool,
}

/// The outcome of the access check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The path is public: forward, with the identity when there is one.
    Public,
    /// The caller may: forward with the identity.
    Allowed,
    /// Nobody is signed in and the path needs someone: sign in first.
    SignIn,
    /// The caller is signed in but may not: 403.
    Denied,
}

/// Weighs the access `needed` against `caller` (`None`: nobody signed in).
pub fn verdict(needed: Access, caller: Option<Caller>) -> Verdict {
    let Some(caller) = caller else {
        return if needed == Access::Public {
            Verdict::Public
        } else {
            Verdict::SignIn
        };
    };
    let may = match needed {
        Access::Public => return Verdict::Public,
        Access::Untrusted => true,
        Access::Trusted => caller.role >= Role::Trusted,
        Access::Admin => caller.role >= Role::Admin,
        Access::RootAdmin => caller.root,
    };
    if may {
        Verdict::Allowed
    } else {
        Verdict::Denied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn caller(role: Role, root: bool) -> Option<Caller> {
        Some(Caller { role, root })
    }

    #[test]
    fn anonymous_callers_reach_public_paths_only() {
        assert_eq!(verdict(Access::Public, None), Verdict::Public);
        for needed in [
            Access::Untrusted,
            Access::Trusted,
            Access::Admin,
            Access::RootAdmin,
        ] {
            assert_eq!(verdict(needed, None), Verdict::SignIn, "{needed:?}");
        }
    }

    #[test]
    fn each_role_reaches_its_level_and_those_below() {
        let untrusted = caller(Role::Untrusted, false);
        let trusted = caller(Role::Trusted, false);
        let admin = caller(Role::Admin, false);
        let root = caller(Role::Admin, true);
        let table = [
            (Access::Public, [Verdict::Public; 4]),
            (Access::Untrusted, [Verdict::Allowed; 4]),
            (
                Access::Trusted,
                [
                    Verdict::Denied,
                    Verdict::Allowed,
                    Verdict::Allowed,
                    Verdict::Allowed,
                ],
            ),
            (
                Access::Admin,
                [
                    Verdict::Denied,
                    Verdict::Denied,
                    Verdict::Allowed,
                    Verdict::Allowed,
                ],
            ),
            (
                Access::RootAdmin,
                [
                    Verdict::Denied,
                    Verdict::Denied,
                    Verdict::Denied,
                    Verdict::Allowed,
                ],
            ),
        ];
        for (needed, expected) in table {
            let got = [untrusted, trusted, admin, root].map(|who| verdict(needed, who));
            assert_eq!(got, expected, "{needed:?}");
        }
    }
}
