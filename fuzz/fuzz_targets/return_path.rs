//! A return path (`rd`) can never send the browser off the site.
//!
//! Whatever the input, `return_target_or_default` gives a same-origin path
//! or a URL for the one other host listed: a path starts with `/`, not `//`
//! or `/\`, holds no control character, is the input unchanged, the end of
//! the input (an absolute URL for the public host gives its path) or `/`,
//! and joined onto `https://app.example` as a browser would it stays on
//! that origin; a URL is https, for `films.app.example` with no user, and
//! ends as the input does.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sidecar::config::hosts::Hosts;
use portcullis_sidecar::http::return_path::return_target_or_default;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(candidate) = std::str::from_utf8(data) else {
        return;
    };
    let base = Url::parse("https://app.example").expect("base URL");
    let others = ["films.app.example".to_owned()];
    let target = return_target_or_default(Some(candidate), Hosts::new(&base, &others));
    if !target.starts_with('/') {
        let url = Url::parse(&target).expect("an absolute target parses");
        assert_eq!(url.scheme(), "https", "{target:?}");
        assert_eq!(url.host_str(), Some("films.app.example"), "{target:?}");
        assert_eq!(url.username(), "", "{target:?}");
        assert!(url.password().is_none(), "{target:?}");
        assert!(!target.chars().any(char::is_control), "{target:?}");
        let path_start = target["https://".len()..].find('/').expect("a path");
        let path = &target["https://".len() + path_start..];
        assert!(
            candidate.ends_with(path) || path == "/",
            "rewritten: {target:?}"
        );
        return;
    }
    let path = target;
    assert!(
        path == "/" || candidate.ends_with(&path),
        "rewritten: {path:?}"
    );
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
