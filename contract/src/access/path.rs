//! The one way a request path is read for an authorization decision.
//!
//! Rules are matched on a normalised path, never the raw one, so `/%61dmin`,
//! `/public/../admin` and `//admin` get the decision of `/admin`. The
//! normalisation is RFC 3986's: percent-encoded unreserved characters are
//! decoded (other escapes keep their byte and get uppercase hex), dot
//! segments are resolved (also when encoded, `%2e%2e`), and empty segments
//! (duplicate slashes) are merged. A trailing slash stays: `/docs/` and
//! `/docs` are different paths to most apps.
//!
//! Some paths an app could read in a way no normalisation predicts: an
//! encoded slash or backslash (`%2F`, `%5C`) that one server decodes into a
//! separator and another does not, a literal backslash that some servers
//! treat as `/`, an encoded control byte, or a broken escape; an escaped
//! escape (`%252e`), which an app that decodes twice reads as the character
//! (`%2e`, then `.`); and escapes that are not UTF-8, among them the overlong
//! forms of `.` and `/` (`%c0%ae`, `%c0%af`) that lax decoders accept. Those
//! are refused ([`AmbiguousPath`]), and the sidecar answers 400. A `%25`
//! that is not followed by two hex digits is a plain percent sign.
//!
//! Windows servers drop trailing dots and spaces from a segment, so
//! `/admin.` is `/admin` to IIS: [`normalise_as_windows`] gives that
//! reading, and the caller takes the stricter decision.
//!
//! Path parameters (`;x`, as in `/admin;x` or `/..;/admin`) are cut off by
//! some servers (Tomcat, Jetty) and kept by others, so the caller reads a
//! path both ways ([`Params`]) and takes the stricter decision. The query is
//! never part of the path, and neither is any forwarded-URI header.

/// What to do with path parameters (`;` and what follows it in a segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Params {
    /// Keep them as part of the segment (most servers).
    Keep,
    /// Cut each segment at its first `;` before decoding (servlet containers).
    Strip,
}

/// A path an app could read differently from the sidecar, so no rule can
/// be trusted to match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmbiguousPath {
    /// The path does not start with `/`.
    #[error("the path does not start with `/`")]
    NotAbsolute,
    /// `%2F` or `%5C`: a separator to some servers, data to others.
    #[error("the path holds an encoded slash or backslash")]
    EncodedSeparator,
    /// A literal `\`, which some servers read as `/`.
    #[error("the path holds a backslash")]
    Backslash,
    /// An encoded control byte (`%00`-`%1F`, `%7F`).
    #[error("the path holds an encoded control character")]
    EncodedControl,
    /// A `%` not followed by two hex digits.
    #[error("the path holds a broken percent escape")]
    BrokenEscape,
    /// `%25` before two hex digits: an escape read as a character by an app
    /// that decodes twice.
    #[error("the path holds a double-encoded escape (`%25` before two hex digits)")]
    DoubleEncoded,
    /// Escapes whose bytes are not UTF-8 (overlong forms included).
    #[error("the path's escapes are not UTF-8")]
    NotUtf8,
}

/// The normal form of the path part of a request target (no query).
///
/// The result starts with `/`; its segments are what rules are matched on.
pub fn normalise(raw: &str, params: Params) -> Result<String, AmbiguousPath> {
    normalise_as(raw, params, false)
}

/// The normal form of `raw` as a Windows server (IIS) reads it: trailing
/// dots and spaces (`%20`) cut from each decoded segment before dot
/// segments are resolved, so a segment of dots and spaces only is `.` or,
/// with two dots or more, `..` (`/static/..%20/admin` is `/admin`, and
/// `/admin.` is `/admin`). `None` when `raw` has no segment that ends in a
/// dot or a space, where this reading is [`normalise`]'s.
pub fn normalise_as_windows(raw: &str, params: Params) -> Option<Result<String, AmbiguousPath>> {
    has_trailing_dot_or_space(raw).then(|| normalise_as(raw, params, true))
}

/// True when a segment (or the part of it before a `;`) of `raw` ends in
/// `.`, `%2e` or `%20`.
fn has_trailing_dot_or_space(raw: &str) -> bool {
    raw.split(['/', ';']).any(|part| {
        part.ends_with('.')
            || ["%2e", "%2E", "%20"]
                .iter()
                .any(|escape| part.ends_with(escape))
    })
}

fn normalise_as(raw: &str, params: Params, windows: bool) -> Result<String, AmbiguousPath> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(AmbiguousPath::NotAbsolute);
    };
    if raw.contains('\\') {
        return Err(AmbiguousPath::Backslash);
    }
    let mut segments: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    for raw_segment in rest.split('/') {
        let segment = match params {
            Params::Keep => raw_segment,
            Params::Strip => raw_segment.split(';').next().unwrap_or_default(),
        };
        let mut decoded = decode_unreserved(segment)?;
        if windows {
            decoded = as_windows_reads(decoded);
        }
        trailing_slash = matches!(decoded.as_str(), "" | "." | "..");
        match decoded.as_str() {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(decoded),
        }
    }
    let mut normal = String::with_capacity(raw.len());
    for segment in &segments {
        normal.push('/');
        normal.push_str(segment);
    }
    if trailing_slash || segments.is_empty() {
        normal.push('/');
    }
    Ok(normal)
}

/// True for RFC 3986's unreserved characters, which mean the same encoded or not.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// A decoded segment as Windows reads it: without trailing dots and
/// spaces, and a segment of nothing else is `.` or, with two dots or more, `..`.
fn as_windows_reads(segment: String) -> String {
    match trimmed(&segment) {
        kept if kept.len() == segment.len() => segment,
        "" if segment.matches('.').count() >= 2 => "..".to_owned(),
        "" if !segment.is_empty() => ".".to_owned(),
        kept => kept.to_owned(),
    }
}

/// `segment` without its trailing dots and spaces (`%20`).
fn trimmed(segment: &str) -> &str {
    let mut kept = segment;
    loop {
        if let Some(shorter) = kept.strip_suffix('.') {
            kept = shorter;
        } else if let Some(shorter) = kept.strip_suffix("%20") {
            kept = shorter;
        } else {
            return kept;
        }
    }
}

/// Decodes escapes of unreserved characters; other escapes keep their byte,
/// written with uppercase hex.
fn decode_unreserved(segment: &str) -> Result<String, AmbiguousPath> {
    let bytes = segment.as_bytes();
    let mut out = String::with_capacity(segment.len());
    let mut escaped_percent = false;
    let mut escaped_non_ascii = false;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte >= 0x80 {
            // A raw byte outside ASCII is written as its escape, so the
            // normal form is ASCII and `/café` reads as `/caf%C3%A9`.
            escaped_non_ascii = true;
            push_escape(&mut out, byte);
            index += 1;
            continue;
        }
        if byte != b'%' {
            out.push(char::from(byte));
            index += 1;
            continue;
        }
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|digit| char::from(*digit).to_digit(16))
        };
        let (Some(high), Some(low)) = (hex(index + 1), hex(index + 2)) else {
            return Err(AmbiguousPath::BrokenEscape);
        };
        let decoded = u8::try_from(high * 16 + low).map_err(|_| AmbiguousPath::BrokenEscape)?;
        match decoded {
            b'/' | b'\\' => return Err(AmbiguousPath::EncodedSeparator),
            0..=0x1f | 0x7f => return Err(AmbiguousPath::EncodedControl),
            unreserved if is_unreserved(unreserved) => out.push(char::from(unreserved)),
            other => {
                escaped_percent |= other == b'%';
                escaped_non_ascii |= other >= 0x80;
                push_escape(&mut out, other);
            }
        }
        index += 3;
    }
    if escaped_percent && holds_double_encoding(&out) {
        return Err(AmbiguousPath::DoubleEncoded);
    }
    if escaped_non_ascii && !escapes_are_utf8(&out) {
        return Err(AmbiguousPath::NotUtf8);
    }
    Ok(out)
}

/// Writes `%XX` with uppercase hex.
fn push_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0x0f)]));
}

/// True when a segment (escapes already in normal form) holds `%25`
/// followed by two hex digits.
fn holds_double_encoding(segment: &str) -> bool {
    segment.match_indices("%25").any(|(at, _)| {
        let next = &segment.as_bytes()[at + 3..];
        next.len() >= 2 && next[0].is_ascii_hexdigit() && next[1].is_ascii_hexdigit()
    })
}

/// True when the bytes a segment's escapes stand for, with its plain
/// characters, are UTF-8.
fn escapes_are_utf8(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = segment
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%')
            .and_then(|digits| u8::from_str_radix(digits, 16).ok());
        match hex {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(raw: &str) -> String {
        normalise(raw, Params::Keep).expect("normalises")
    }

    #[test]
    fn encoded_unreserved_characters_are_decoded() {
        assert_eq!(kept("/%61dmin"), "/admin");
        assert_eq!(kept("/%41%44MIN"), "/ADMIN");
        assert_eq!(kept("/a%2Db%5Fc%7Ed%2ee"), "/a-b_c~d.e");
    }

    #[test]
    fn other_escapes_stay_encoded_with_uppercase_hex() {
        assert_eq!(kept("/a%20b"), "/a%20b");
        assert_eq!(kept("/a%3fb"), "/a%3Fb");
        assert_eq!(kept("/caf%c3%a9"), "/caf%C3%A9");
    }

    #[test]
    fn raw_bytes_outside_ascii_are_written_as_escapes() {
        assert_eq!(kept("/café"), "/caf%C3%A9");
        assert_eq!(kept("/static/.%25./x\u{488}"), "/static/.%25./x%D2%88");
    }

    #[test]
    fn dot_segments_are_resolved_even_when_encoded() {
        assert_eq!(kept("/public/../admin"), "/admin");
        assert_eq!(kept("/public/%2e%2e/admin"), "/admin");
        assert_eq!(kept("/public/.%2E/admin"), "/admin");
        assert_eq!(kept("/./admin/./x"), "/admin/x");
        assert_eq!(kept("/../../admin"), "/admin");
        assert_eq!(kept("/admin/x/.."), "/admin/");
        assert_eq!(kept("/admin/."), "/admin/");
        assert_eq!(kept("/.."), "/");
    }

    #[test]
    fn duplicate_slashes_are_merged_and_a_trailing_slash_kept() {
        assert_eq!(kept("//admin"), "/admin");
        assert_eq!(kept("/admin//x///y"), "/admin/x/y");
        assert_eq!(kept("/docs/"), "/docs/");
        assert_eq!(kept("/docs//"), "/docs/");
        assert_eq!(kept("/"), "/");
        assert_eq!(kept("//"), "/");
    }

    #[test]
    fn case_is_kept() {
        assert_eq!(kept("/ADMIN"), "/ADMIN");
    }

    #[test]
    fn path_parameters_are_kept_or_cut_before_decoding() {
        assert_eq!(kept("/admin;x"), "/admin;x");
        assert_eq!(normalise("/admin;x", Params::Strip), Ok("/admin".into()));
        assert_eq!(kept("/public/..;/admin"), "/public/..;/admin");
        assert_eq!(
            normalise("/public/..;/admin", Params::Strip),
            Ok("/admin".into())
        );
        assert_eq!(
            normalise("/a%3Bb/c", Params::Strip),
            Ok("/a%3Bb/c".into()),
            "an encoded semicolon is data, not a parameter"
        );
    }

    #[test]
    fn paths_an_app_could_read_differently_are_refused() {
        for (raw, why) in [
            ("/public%2F..%2Fadmin", AmbiguousPath::EncodedSeparator),
            ("/a%2fb", AmbiguousPath::EncodedSeparator),
            ("/a%5Cb", AmbiguousPath::EncodedSeparator),
            ("/public\\..\\admin", AmbiguousPath::Backslash),
            ("/a%00b", AmbiguousPath::EncodedControl),
            ("/a%0d%0ab", AmbiguousPath::EncodedControl),
            ("/a%7f", AmbiguousPath::EncodedControl),
            ("/a%", AmbiguousPath::BrokenEscape),
            ("/a%4", AmbiguousPath::BrokenEscape),
            ("/a%zz", AmbiguousPath::BrokenEscape),
            ("admin", AmbiguousPath::NotAbsolute),
            ("*", AmbiguousPath::NotAbsolute),
            ("/static/%252e%252e/admin", AmbiguousPath::DoubleEncoded),
            ("/%2561dmin", AmbiguousPath::DoubleEncoded),
            ("/a%2525b", AmbiguousPath::DoubleEncoded),
            ("/%25%32%66admin", AmbiguousPath::DoubleEncoded),
            ("/static/%c0%ae%c0%ae/admin", AmbiguousPath::NotUtf8),
            ("/%e0%80%af", AmbiguousPath::NotUtf8),
            ("/%ff", AmbiguousPath::NotUtf8),
            ("/caf%c3", AmbiguousPath::NotUtf8),
        ] {
            for params in [Params::Keep, Params::Strip] {
                assert_eq!(normalise(raw, params), Err(why), "{raw}");
            }
        }
    }

    #[test]
    fn a_percent_sign_not_before_hex_digits_is_plain_data() {
        assert_eq!(kept("/100%25"), "/100%25");
        assert_eq!(kept("/100%25off"), "/100%25off");
        assert_eq!(kept("/%25zz"), "/%25zz");
        assert_eq!(kept("/caf%C3%A9"), "/caf%C3%A9");
    }

    #[test]
    fn windows_drops_trailing_dots_and_spaces() {
        let windows = |raw: &str| {
            normalise_as_windows(raw, Params::Keep).map(|read| read.expect("normalises"))
        };
        assert_eq!(windows("/admin."), Some("/admin".into()));
        assert_eq!(windows("/admin%20"), Some("/admin".into()));
        assert_eq!(windows("/admin.%20./users"), Some("/admin/users".into()));
        assert_eq!(windows("/admin/x./"), Some("/admin/x/".into()));
        assert_eq!(windows("/admin/..."), Some("/".into()));
        assert_eq!(windows("/static/..%20/admin"), Some("/admin".into()));
        assert_eq!(windows("/static/.%20/admin"), Some("/static/admin".into()));
        assert_eq!(
            windows("/static/x/..%20/../admin"),
            Some("/admin".into()),
            "trimmed before dot segments are resolved"
        );
        assert_eq!(windows("/static/x%2e/y"), Some("/static/x/y".into()));
        assert_eq!(
            normalise_as_windows("/admin.;x/y", Params::Strip).map(Result::ok),
            Some(Some("/admin/y".into()))
        );
        assert_eq!(windows("/a.b/c"), None);
        assert_eq!(windows("/admin/"), None);
        assert_eq!(windows("/"), None);
    }

    #[test]
    fn normal_form_is_a_fixed_point() {
        for raw in [
            "/%61dmin/../x//y/%2e/z%20",
            "/",
            "/docs/",
            "/a/b;c/..",
            "/caf%c3%a9/",
        ] {
            for params in [Params::Keep, Params::Strip] {
                let once = normalise(raw, params).expect("normalises");
                assert_eq!(normalise(&once, params), Ok(once.clone()), "{raw}");
            }
        }
    }
}
