//! A return path (`rd`) can never send the browser off the site.
//!
//! Whatever the input, `return_path_or_default` gives a same-origin path:
//! it starts with `/`, not `//` or `/\`, holds no control character, is
//! the input unchanged, the end of the input (an absolute URL for the
//! public host gives its path) or `/`, and joined onto `https://app.example`
//! as a browser would it stays on that origin.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sidecar::http::return_path::return_path_or_default;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(candidate) = std::str::from_utf8(data) else {
        return;
    };
    let base = Url::parse("https://app.example").expect("base URL");
    let path = return_path_or_default(Some(candidate), &base);
    assert!(path == "/" || candidate.ends_with(&path), "rewritten: {path:?}");
    assert!(path.starts_with('/'), "{path:?}");
    assert!(!path.starts_with("//"), "{path:?}");
    assert!(!path.starts_with("/\\"), "{path:?}");
    assert!(!path.chars().any(char::is_control), "{path:?}");

    let joined = base.join(&path).expect("a path always joins");
    assert_eq!(joined.scheme(), "https", "{path:?} -> {joined}");
    assert_eq!(
        joined.host_str(),
        Some("app.example"),
        "{path:?} -> {joined}"
    );
    assert_eq!(joined.port(), None, "{path:?} -> {joined}");
    assert_eq!(joined.username(), "", "{path:?} -> {joined}");
    assert_eq!(joined.origin(), base.origin(), "{path:?} -> {joined}");
});
