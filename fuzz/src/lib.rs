//! What the fuzz targets share: the fixed session key, cookie names and clock,
//! so that the committed seeds (made by `cargo run --example seeds`) open
//! under the same key the targets use.

use portcullis_sidecar::session::KeyRing;
use std::sync::OnceLock;

/// A fixed key line (48 bytes, standard base64), never used outside fuzzing.
pub const KEY_LINE: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8w";

/// The session cookie's name on an https public URL.
pub const COOKIE_NAME: &str = "__Host-portcullis_session";

/// The configured name, still read for sessions issued before the prefix.
pub const LEGACY_COOKIE_NAME: &str = "portcullis_session";

/// The clock the targets open sessions at (unix seconds, 2025-01-01).
pub const NOW: u64 = 1_735_689_600;

/// The key ring made from [`KEY_LINE`], parsed once.
pub fn keys() -> &'static KeyRing {
    static KEYS: OnceLock<KeyRing> = OnceLock::new();
    KEYS.get_or_init(|| KeyRing::parse(KEY_LINE).expect("the fixed key line parses"))
}
