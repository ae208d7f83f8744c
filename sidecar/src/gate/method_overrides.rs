//! Methods a request may name besides its own, which the app may act on.
//!
//! Express's `method-override`, Laravel, Symfony and Rails turn a POST into
//! the method named in an `X-HTTP-Method-Override`, `X-HTTP-Method` or
//! `X-Method-Override` header, or in a `_method` field of the query or of a
//! form body. The gate reads no bodies, so a POST whose body is a form
//! (`application/x-www-form-urlencoded`, `multipart/form-data`) may name
//! any method. The request then needs the strictest of what its own method
//! and each method it may name need: a POST naming DELETE needs what a
//! DELETE needs. A comma-joined value names each of its parts. The app
//! still receives the request as sent.

use super::asked::Asked;
use super::identity_headers::same_name;
use http::{Method, header};

/// Header names of method overrides, read with `_` as `-` (Symfony and
/// CGI-style servers do).
const OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];
/// The query and form field of a method override.
const OVERRIDE_FIELD: &str = "_method";

/// The methods a request may be acted on as, besides its own.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MethodOverrides {
    /// Methods named in headers and the query, upper-cased.
    pub named: Vec<String>,
    /// True when the body may name any method (a form POST).
    pub any_from_body: bool,
}

impl MethodOverrides {
    /// The overrides `request` carries or may carry.
    pub fn of(request: &Asked<'_>) -> Self {
        let mut named = Vec::new();
        for (name, value) in request.headers() {
            let name = name.as_str().as_bytes();
            if OVERRIDE_HEADERS
                .iter()
                .any(|header| same_name(name, header.as_bytes()))
            {
                named.extend(method_names(&String::from_utf8_lossy(value.as_bytes())));
            }
        }
        if let Some(query) = request.uri().query() {
            named.extend(query_overrides(query));
        }
        Self {
            named,
            any_from_body: *request.method() == Method::POST && sends_form(request),
        }
    }

    /// True when the request can only be acted on as its own method.
    pub fn is_empty(&self) -> bool {
        self.named.is_empty() && !self.any_from_body
    }
}

/// `_method` values of a query, upper-cased; the query is decoded only
/// when it could hold the field.
fn query_overrides(query: &str) -> impl Iterator<Item = String> + '_ {
    let could_hold = query.contains('%') || query.contains(OVERRIDE_FIELD);
    could_hold
        .then(|| url::form_urlencoded::parse(query.as_bytes()))
        .into_iter()
        .flatten()
        .filter(|(name, _)| name == OVERRIDE_FIELD)
        .flat_map(|(_, value)| method_names(&value))
}

/// The methods a value names, as frameworks read them: upper-cased (white
/// space around each dropped too, in case one trims), and each part of a
/// comma-joined list apart. Repeated headers arrive joined (Node, and
/// Envoy's `ext_authz`), and Express's `method-override` acts on the first
/// part, so every part counts.
fn method_names(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|part| part.trim().to_ascii_uppercase())
        .collect()
}

/// True when the body is a form, where a `_method` field may be.
fn sends_form(request: &Asked<'_>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .is_some_and(|media| {
            media == "application/x-www-form-urlencoded" || media == "multipart/form-data"
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Uri};

    fn overrides(
        method: Method,
        uri: &str,
        headers: &[(&'static str, &'static str)],
    ) -> MethodOverrides {
        let uri: Uri = uri.parse().expect("uri");
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_static(value));
        }
        MethodOverrides::of(&Asked::new(&method, &uri, &map))
    }

    #[test]
    fn a_plain_request_names_no_other_method() {
        assert!(overrides(Method::POST, "/items/7?page=2", &[]).is_empty());
        assert!(overrides(Method::POST, "/items?q=%20method", &[]).is_empty());
        assert!(
            overrides(
                Method::POST,
                "/items",
                &[("content-type", "application/json")]
            )
            .is_empty()
        );
        assert!(
            overrides(
                Method::GET,
                "/items",
                &[("content-type", "application/x-www-form-urlencoded")]
            )
            .is_empty(),
            "only a POST's body is read for `_method`"
        );
    }

    #[test]
    fn a_comma_joined_value_names_each_of_its_methods() {
        let found = overrides(
            Method::POST,
            "/items/7?_method=put,patch",
            &[("x-http-method-override", "DELETE, GET")],
        );
        assert_eq!(found.named, ["DELETE", "GET", "PUT", "PATCH"]);
    }

    #[test]
    fn headers_name_methods_in_any_spelling() {
        let found = overrides(
            Method::POST,
            "/items/7",
            &[
                ("x-http-method-override", " delete "),
                ("X_HTTP_Method", "PUT"),
                ("x-method-override", "PATCH"),
            ],
        );
        assert_eq!(found.named, ["DELETE", "PUT", "PATCH"]);
    }

    #[test]
    fn the_query_names_a_method_even_when_encoded() {
        let found = overrides(
            Method::POST,
            "/items/7?a=1&_method=delete&%5Fmethod=PUT",
            &[],
        );
        assert_eq!(found.named, ["DELETE", "PUT"]);
        assert!(overrides(Method::POST, "/items/7?method=DELETE", &[]).is_empty());
    }

    #[test]
    fn a_form_post_may_name_any_method() {
        for media in [
            "application/x-www-form-urlencoded",
            "Multipart/Form-Data; boundary=x",
        ] {
            let found = overrides(Method::POST, "/items/7", &[("content-type", media)]);
            assert!(found.any_from_body, "{media}");
        }
    }
}
