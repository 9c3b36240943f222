//! The string table (rules R17 to R19): every string, validated as UTF-8 one by one.

use std::ops::Range;

use super::super::cursor::ByteCursor;
use crate::error::{Error, Result};
use crate::format::tables::STRING_ENTRY_MIN_LEN;
use crate::graph::GraphBuilder;

pub(super) fn parse_strings(r: &mut ByteCursor<'_>, count: u32, parts: &mut GraphBuilder) -> Result<()> {
    r.ensure_backed(u64::from(count), STRING_ENTRY_MIN_LEN, "strings")?;
    // Strings are gathered first and validated as one buffer: the table is valid exactly when the
    // concatenation is valid UTF-8 and every string starts and ends on a character boundary.
    let mut text: Vec<u8> = Vec::new();
    let mut spans: Vec<(u64, Range<usize>)> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let read = r.u32("string length").and_then(|len| {
            let offset = r.offset();
            Ok((offset, r.take(len as usize, "string")?))
        });
        let (offset, bytes) = match read {
            Ok(read) => read,
            // Rules apply string by string: a bad string before the truncation is reported first.
            Err(truncated) => {
                return Err(first_invalid_string(&text, &spans).unwrap_or(truncated));
            }
        };
        let start = text.len();
        text.extend_from_slice(bytes);
        spans.push((offset, start..text.len()));
    }
    let text = match String::from_utf8(text) {
        Ok(text)
            if spans
                .iter()
                .all(|(_, span)| text.is_char_boundary(span.start) && text.is_char_boundary(span.end)) =>
        {
            text
        }
        Ok(text) => {
            return Err(first_invalid_string(text.as_bytes(), &spans)
                .unwrap_or_else(|| Error::invalid_utf8(0, "invalid UTF-8")))
        }
        Err(e) => {
            return Err(first_invalid_string(e.as_bytes(), &spans)
                .unwrap_or_else(|| Error::invalid_utf8(0, "invalid UTF-8")))
        }
    };
    parts.set_strings(text, spans.into_iter().map(|(_, span)| span));
    Ok(())
}

/// The error for the first string (in table order) that is not valid UTF-8 on its own.
fn first_invalid_string(text: &[u8], spans: &[(u64, Range<usize>)]) -> Option<Error> {
    spans.iter().find_map(|(offset, span)| {
        std::str::from_utf8(&text[span.clone()])
            .err()
            .map(|e| Error::invalid_utf8(offset + e.valid_up_to() as u64, "a string is not valid UTF-8"))
    })
}
