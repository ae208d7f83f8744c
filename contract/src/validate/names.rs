//! The rules for values that name something: a client id, a claim, a
//! group, an audience, a cookie, a scope.
//!
//! Such a value is compared byte for byte against what a provider sends, so
//! a stray space, a non-breaking space or a control character makes it
//! match nothing, and the mistake shows only as users who cannot sign in.
//! Blank means empty after removing every Unicode white space (so U+00A0
//! and a vertical tab count as blank too); one rule for both halves.

use crate::header_value::is_header_safe;
use crate::problems::Problems;

/// True when `value` is empty or only Unicode white space.
pub fn is_blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// A required name: not blank, no surrounding white space, no control
/// characters.
pub fn required_name(problems: &mut Problems, field: &str, value: &str) {
    if is_blank(value) {
        problems.push(field, "is required");
    } else if !is_header_safe(value) {
        problems.push(field, UNSAFE);
    }
}

/// Every entry of a list of names, each named by its index; `lone_slash`
/// also refuses `/` (a group path with no group in it).
pub fn name_list(problems: &mut Problems, field: &str, values: &[String], lone_slash: bool) {
    for (index, value) in values.iter().enumerate() {
        let entry = format!("{field}[{index}]");
        if is_blank(value) || (lone_slash && value.trim() == "/") {
            problems.push(&entry, "must be a name, not empty");
        } else if !is_header_safe(value) {
            problems.push(&entry, UNSAFE);
        }
    }
}

/// Why a name with surrounding white space or control characters is refused.
pub const UNSAFE: &str = "must not start or end with white space or hold control characters";

/// Whether `name` can be a cookie name here (letters, digits, `_`, `-`).
pub fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A scope as OAuth 2.0 allows it (RFC 6749 §3.3), without quotes.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_spaces_and_control_characters_are_blank_or_unsafe() {
        for blank in ["", " ", "\u{a0}", "\u{b}", "\u{2003}\t", "\u{3000}"] {
            assert!(is_blank(blank), "{blank:?}");
        }
        let mut problems = Problems::default();
        let values = ["ops", "\u{a0}", "/", " ops", "o\u{7}ps", "Domain Users"].map(String::from);
        name_list(&mut problems, "groups", &values, true);
        let named: Vec<&str> = problems.0.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(named, ["groups[1]", "groups[2]", "groups[3]", "groups[4]"]);
    }

    #[test]
    fn a_required_name_names_blank_and_unsafe_values_apart() {
        let mut problems = Problems::default();
        required_name(&mut problems, "a", "\u{a0}");
        required_name(&mut problems, "b", "books\n");
        required_name(&mut problems, "c", "books");
        assert_eq!(problems.0[0].message, "is required");
        assert!(problems.0[1].message.contains("control"), "{problems}");
        assert_eq!(problems.0.len(), 2);
    }
}
