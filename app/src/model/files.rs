//! The upload protocol's shared terms (docs/api.md, "Files"): the browser
//! sends a file's bytes in chunks of at most `CHUNK_BYTES` with
//! `PUT /api/groups/{slug}/uploads/{sha256}` and a `Content-Range`, and
//! each answer says how far the server has them.

use serde::{Deserialize, Serialize};

/// Largest chunk one request carries (and the size the browser sends):
/// small enough to arrive within the server's 10 s for a body over a weak
/// phone connection (about 30 kB/s).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// How far an upload is: `received` of `total` bytes, or `complete` (the
/// content is stored, whoever sent it; `file.attach` may name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    pub received: i64,
    pub total: i64,
    pub complete: bool,
}

/// `Content-Range: bytes <first>-<last>/<total>` (RFC 9110), as
/// `(first, last, total)`; `None` if it does not read as one.
pub fn parse_content_range(header: &str) -> Option<(i64, i64, i64)> {
    let (range, total) = header.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let number = |s: &str| s.parse::<i64>().ok().filter(|n| *n >= 0);
    let (first, last, total) = (number(first)?, number(last)?, number(total)?);
    (first <= last && last < total).then_some((first, last, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_read_as_rfc_9110_writes_them() {
        assert_eq!(parse_content_range("bytes 0-99/100"), Some((0, 99, 100)));
        assert_eq!(parse_content_range("bytes 100-199/1000"), Some((100, 199, 1000)));
        for bad in ["bytes 5-4/10", "bytes 0-10/10", "bytes -1-3/10", "0-3/10", "bytes 0-3/*", "bytes 0-3", ""] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
