//! Neo4j's limits on what the model may hold, in one place: how long a key
//! or an indexed value may be, and how a longer one is cut.

use super::schema::Label;

/// Neo4j refuses an index entry over this many bytes (its range index):
/// one such value fails the whole batch, or leaves an imported index FAILED.
pub const INDEX_KEY_BYTES: usize = 8167;

/// Keys and indexed properties longer than this (in UTF-8 bytes, marker
/// included) are cut, well within [`INDEX_KEY_BYTES`]; no real path or name
/// comes close.
pub const MAX_KEY_BYTES: usize = 4000;

const _: () = assert!(MAX_KEY_BYTES < INDEX_KEY_BYTES);

/// Marker appended to a value that was cut.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

impl Label {
    /// The most bytes a string property of this label may hold: the key at
    /// [`MAX_KEY_BYTES`], an indexed property within it too, any other at
    /// `max_len` (the configured limit).
    pub fn max_bytes(self, prop: &str, max_len: usize) -> usize {
        if prop == self.key() {
            MAX_KEY_BYTES
        } else if self.property(prop).is_some_and(|p| p.indexed) {
            MAX_KEY_BYTES.min(max_len)
        } else {
            max_len
        }
    }
}
