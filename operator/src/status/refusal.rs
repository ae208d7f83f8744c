//! Which failed API requests are reported in `status`, and how.
//!
//! A refusal that a retry cannot cure by itself (a missing permission, an
//! object the API server finds invalid) would otherwise live only in the
//! operator's log, while the `OidcSettings` shows no status at all or an old
//! `Ready=True`. Overload, timeouts, conflicts and server errors pass by
//! themselves and are only retried with backoff.

use super::reason::Reason;

/// The reason to report for an API error with HTTP status `code`, or `None`
/// when it is transient and only retried.
pub fn refusal_reason(code: u16) -> Option<Reason> {
    match code {
        403 => Some(Reason::Forbidden),
        400 | 404 | 405 | 406 | 410 | 413 | 415 | 422 => Some(Reason::ApiError),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_and_invalid_requests_are_reported_overload_is_retried() {
        assert_eq!(refusal_reason(403), Some(Reason::Forbidden));
        assert_eq!(refusal_reason(422), Some(Reason::ApiError));
        for transient in [401, 409, 429, 500, 503, 504] {
            assert_eq!(refusal_reason(transient), None, "{transient}");
        }
    }
}
