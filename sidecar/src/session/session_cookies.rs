//! The session's cookies on the wire: the `Set-Cookie` values that write a
//! session (its parts, and clears of the parts it no longer needs, so a
//! session that shrank sends no stale part), and the whole sealed values a
//! request carries (see [`super::split_cookie`]).

use super::cookie::{CookieScope, clear_cookie, request_cookies, set_cookie};
use super::split_cookie::{MAX_PARTS, joins, part_name, parts_announced};
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};
use std::borrow::Cow;

/// The `Set-Cookie` values that write one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCookies(Vec<HeaderValue>);

impl SessionCookies {
    /// Writes `parts` (from [`super::seal_session`]) under the session
    /// cookie `name` and its part names in `scope`, kept `max_age_seconds`;
    /// clears the part names it does not use.
    pub fn new(name: &str, parts: Vec<String>, max_age_seconds: i64, scope: CookieScope) -> Self {
        let used = parts.len();
        let mut values: Vec<String> = parts
            .into_iter()
            .enumerate()
            .map(|(index, part)| {
                let cookie_name = match index {
                    0 => name.to_owned(),
                    index => part_name(name, index),
                };
                set_cookie(&cookie_name, part, max_age_seconds, scope)
            })
            .collect();
        values.extend(
            (used.max(1)..MAX_PARTS).map(|index| clear_cookie(&part_name(name, index), scope)),
        );
        Self(
            values
                .iter()
                .filter_map(|value| HeaderValue::from_str(value).ok())
                .collect(),
        )
    }

    /// Clears the session cookie `name` and every part name in `scope`.
    pub fn cleared(name: &str, scope: CookieScope) -> Self {
        Self(
            std::iter::once(name.to_owned())
                .chain((1..MAX_PARTS).map(|index| part_name(name, index)))
                .filter_map(|name| HeaderValue::from_str(&clear_cookie(&name, scope)).ok())
                .collect(),
        )
    }

    /// Adds the values to a response's headers.
    pub fn append_to(self, headers: &mut HeaderMap) {
        for value in self.0 {
            headers.append(SET_COOKIE, value);
        }
    }

    /// The values, in order.
    pub fn values(&self) -> &[HeaderValue] {
        &self.0
    }
}

/// The `Cookie` header a browser sends back for the session cookie `name`
/// written in `parts`: for clients that hold a session without a browser.
pub fn cookie_header(name: &str, parts: &[String]) -> String {
    parts
        .iter()
        .enumerate()
        .map(|(index, part)| match index {
            0 => format!("{name}={part}"),
            index => format!("{}={part}", part_name(name, index)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every whole sealed value of the session cookie `name` in `headers`, in
/// the order sent: a whole cookie as it is, a first part joined with the
/// parts that follow it.
pub fn whole_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = Cow<'a, str>> + 'a {
    request_cookies(headers, name).flat_map(move |value| {
        let joined = match parts_announced(value) {
            None => Vec::new(),
            Some(count) => {
                let following: Vec<Vec<&str>> = (1..count)
                    .map(|index| request_cookies(headers, &part_name(name, index)).collect())
                    .collect();
                joins(value, &following)
            }
        };
        let whole = parts_announced(value)
            .is_none()
            .then_some(Cow::Borrowed(value));
        whole.into_iter().chain(joined.into_iter().map(Cow::Owned))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::COOKIE;

    fn names(cookies: &SessionCookies) -> Vec<String> {
        cookies
            .values()
            .iter()
            .map(|value| {
                let text = value.to_str().unwrap_or_default();
                let (pair, _) = text.split_once(';').unwrap_or((text, ""));
                let max_age_zero = text.contains("Max-Age=0");
                format!("{pair}{}", if max_age_zero { " (cleared)" } else { "" })
            })
            .collect()
    }

    #[test]
    fn a_whole_session_clears_the_part_names() {
        let cookies = SessionCookies::new("s", vec!["whole".into()], 60, CookieScope::host(true));
        assert_eq!(
            names(&cookies),
            ["s=whole", "s_1= (cleared)", "s_2= (cleared)"]
        );
    }

    #[test]
    fn a_split_session_writes_each_part_and_clears_the_rest() {
        let cookies = SessionCookies::new(
            "s",
            vec!["2.ab".into(), "cd".into()],
            60,
            CookieScope::host(true),
        );
        assert_eq!(names(&cookies), ["s=2.ab", "s_1=cd", "s_2= (cleared)"]);
    }

    #[test]
    fn clearing_clears_the_cookie_and_every_part() {
        let cookies = SessionCookies::cleared("s", CookieScope::host(false));
        assert_eq!(
            names(&cookies),
            ["s= (cleared)", "s_1= (cleared)", "s_2= (cleared)"]
        );
    }

    fn request(cookie: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static(cookie));
        headers
    }

    #[test]
    fn whole_values_are_offered_as_sent_and_parts_joined() {
        let headers = request("s=whole; other=1");
        assert_eq!(whole_values(&headers, "s").collect::<Vec<_>>(), ["whole"]);
        let headers = request("s_1=cd; s=2.ab; s_2=ignored");
        assert_eq!(whole_values(&headers, "s").collect::<Vec<_>>(), ["abcd"]);
        let headers = request("s=3.ab; s_1=cd");
        assert_eq!(whole_values(&headers, "s").count(), 0, "a part is missing");
    }

    #[test]
    fn the_cookie_header_names_each_part() {
        assert_eq!(cookie_header("s", &["whole".into()]), "s=whole");
        assert_eq!(
            cookie_header("s", &["2.ab".into(), "cd".into()]),
            "s=2.ab; s_1=cd"
        );
    }

    #[test]
    fn a_planted_part_is_tried_beside_the_real_one() {
        let headers = request("s=2.ab; s_1=planted; s_1=cd");
        assert_eq!(
            whole_values(&headers, "s").collect::<Vec<_>>(),
            ["abplanted", "abcd"]
        );
    }
}
