//! The parsed webhook body.
//!
//! Bodies are parsed with sonic-rs: it builds the whole tree in one arena instead of a heap
//! allocation per string and map node, so parsing is several times cheaper than into a
//! `serde_json::Value` (`benches/map_order.rs` measures both). The rules read the tree only
//! through `get`/`as_*` and the readers in [`super::lenient`], so another parser would mean
//! changing the `Json` type here and the type switches in `lenient`. What is *sent* is built
//! with `serde_json`.

use crate::MappingError;
pub use sonic_rs::{JsonContainerTrait, JsonType, JsonValueTrait, Object, Value as Json};

/// Deepest nesting accepted. sonic-rs parses recursively: optimised it needs a few hundred
/// bytes of stack per level, so a body of a million `[` would overflow any thread. Salla's
/// payloads nest about 6 deep; 512 stays 8x inside a 2 MiB thread stack (measured: 5,000
/// levels fit in release, 4,000 in the dev profile, which optimises sonic-rs for this reason).
pub const MAX_DEPTH: usize = 512;

/// Parses a JSON document, refusing bodies nested deeper than [`MAX_DEPTH`].
pub fn parse(body: &[u8]) -> Result<Json, MappingError> {
    if too_deep(body) {
        return Err(MappingError::NotJson);
    }
    sonic_rs::from_slice(body).map_err(|_| MappingError::NotJson)
}

/// Cheap first: a body with at most `MAX_DEPTH` opening brackets anywhere cannot nest deeper.
/// Counting them is one vectorised pass (Salla's 12 KB order.created has 90); only bodies
/// with more get the exact scan, which skips strings and costs about as much as the parse.
fn too_deep(body: &[u8]) -> bool {
    openers(body) > MAX_DEPTH && max_depth_exceeds(body, MAX_DEPTH)
}

/// How many `[` and `{` bytes `body` has. `[` (0x5B) and `{` (0x7B) differ only in bit 0x20,
/// and no other byte maps to 0x7B with that bit set. Counting in byte-wide counters over
/// 128-byte chunks (too short to overflow one) compiles to whole-register compares, which
/// beats a search such as `memchr2_iter` that stops at every match.
fn openers(body: &[u8]) -> usize {
    body.chunks(128)
        .map(|chunk| {
            let n = chunk
                .iter()
                .fold(0u8, |n, &b| n + u8::from(b | 0x20 == b'{'));
            usize::from(n)
        })
        .sum()
}

fn max_depth_exceeds(body: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        for n in [MAX_DEPTH + 1, 10_000, 1_000_000] {
            let arrays = format!("{}{}", "[".repeat(n), "]".repeat(n));
            assert_eq!(parse(arrays.as_bytes()), Err(MappingError::NotJson), "{n}");
            let objects = format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
            assert_eq!(parse(objects.as_bytes()), Err(MappingError::NotJson), "{n}");
            assert_eq!(parse("[".repeat(n).as_bytes()), Err(MappingError::NotJson));
        }
    }

    #[test]
    fn depth_limit_is_exact_and_ignores_brackets_in_strings() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        // Many brackets, but inside strings (with escaped quotes): shallow.
        let body = format!(r#"{{"a":"\"{}","b":[1]}}"#, "[{".repeat(MAX_DEPTH));
        assert!(parse(body.as_bytes()).is_ok());
        let wide = format!("[{}1]", "[1],".repeat(10 * MAX_DEPTH));
        assert!(parse(wide.as_bytes()).is_ok());
    }

    #[test]
    fn openers_counts_exactly_the_two_brackets() {
        for b in 0..=255u8 {
            let expected = usize::from(b == b'[' || b == b'{');
            assert_eq!(openers(&[b]), expected, "{b:#04x}");
        }
        // Across chunk boundaries and beyond a byte counter's range.
        let body = "[{x".repeat(10_000);
        assert_eq!(openers(body.as_bytes()), 20_000);
        assert_eq!(openers(&[b'{'; 128 * 3 + 7]), 128 * 3 + 7);
    }

    #[test]
    fn invalid_json_and_utf8_are_errors() {
        for bad in [
            &b"{"[..],
            b"{\"a\":1} x",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":NaN}",
            b"{\"a\":\"\\ud800\"}",
            b"",
        ] {
            assert_eq!(parse(bad), Err(MappingError::NotJson), "{bad:?}");
        }
    }
}
