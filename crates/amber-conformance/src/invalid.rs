//! The hostile files: each a valid case with one documented corruption, breaking one rule.
//!
//! After the change the file is reassembled with every CRC and trailer field recomputed (see
//! [`Parts::assemble`]), so the broken rule is the first rule of spec section 9 that a reader
//! meets. Cases that break a CRC or the trailer itself edit the assembled bytes instead.

use amberfile::format::crc32;
use serde_json::Value as Json;

use super::layout::{Parts, HEADER_LEN, TRAILER_LEN};
use super::valid::{
    frame_walk_content, frame_walk_frame, libzstd_block, libzstd_frame, raw_block_frame,
    BLOCK_MAXIMUM_CONTENT,
};
use super::{Case, Expect, ZeroRun};

/// Builds derived cases from the valid ones.
struct Deriver<'v> {
    valid: &'v [Case],
    out: Vec<Case>,
}

/// What a derived case is: its name (without `n_`), rule, section, class and description.
struct Spec {
    name: &'static str,
    rule: &'static str,
    section: &'static str,
    class: &'static str,
    description: &'static str,
}

const fn spec(
    name: &'static str,
    rule: &'static str,
    section: &'static str,
    class: &'static str,
    description: &'static str,
) -> Spec {
    Spec {
        name,
        rule,
        section,
        class,
        description,
    }
}

impl<'v> Deriver<'v> {
    fn base(&self, name: &str) -> &'v Case {
        let file = format!("y_{name}.amber");
        self.valid
            .iter()
            .find(|c| c.name == file)
            .unwrap_or_else(|| panic!("no valid case {file}"))
    }

    fn push(&mut self, base: &str, spec: Spec, corruption: String, bytes: Vec<u8>) {
        let base = self.base(base).path();
        self.out.push(Case {
            name: format!("n_{}_{}.amber", spec.rule, spec.name),
            description: spec.description.into(),
            section: spec.section,
            rule: Some(spec.rule),
            expect: Expect::Reject(spec.class),
            derived_from: Some(base),
            corruption: Some(corruption),
            bytes,
            zero_run: None,
        });
    }

    /// A corruption of the taken-apart file, reassembled with fresh CRCs.
    fn parts(&mut self, base: &str, spec: Spec, corruption: &str, edit: impl FnOnce(&mut Parts)) {
        let mut parts = Parts::split(&self.base(base).bytes);
        edit(&mut parts);
        let bytes = parts.assemble();
        self.push(base, spec, corruption.into(), bytes);
    }

    /// A corruption of the finished bytes, for CRCs, the trailer and the file's length.
    fn bytes(&mut self, base: &str, spec: Spec, corruption: &str, edit: impl FnOnce(&mut Vec<u8>)) {
        let mut bytes = self.base(base).bytes.clone();
        edit(&mut bytes);
        self.push(base, spec, corruption.into(), bytes);
    }
}

/// Recomputes the trailer CRC after the trailer's other bytes were edited.
fn reseal_trailer(file: &mut [u8]) {
    let start = file.len() - TRAILER_LEN;
    let crc = crc32(&file[start..start + 20]);
    file[start + 20..start + 24].copy_from_slice(&crc.to_le_bytes());
}

/// Offset of field `field` of the record at dtype entry `dtype`, in the metadata section.
fn record_field(parts: &Parts, dtype: usize, field: usize) -> usize {
    let mut at = parts.map().dtypes[dtype] + 9;
    for _ in 0..field {
        at += 13 + 8 * usize::from(parts.metadata[at + 12]);
    }
    at
}

/// A string's text in the metadata section.
fn string_text(parts: &Parts, index: usize) -> std::ops::Range<usize> {
    let at = parts.map().strings[index];
    at + 4..at + 4 + parts.get_u32(at) as usize
}

pub fn cases(valid: &[Case]) -> Vec<Case> {
    let mut d = Deriver {
        valid,
        out: Vec::new(),
    };
    header_and_trailer(&mut d);
    truncations(&mut d);
    metadata_header_and_strings(&mut d);
    dtypes(&mut d);
    arrays(&mut d);
    nodes(&mut d);
    layout(&mut d);
    data(&mut d);
    errata(&mut d);
    let mut out = d.out;
    out.push(metadata_over_limit());
    out
}

fn header_and_trailer(d: &mut Deriver<'_>) {
    const M: &str = "minimal_none_root";
    d.parts(
        M,
        spec(
            "header_magic",
            "R2",
            "3",
            "BadMagic",
            "The header magic is wrong (\\x89aMB...)",
        ),
        "header byte 1 'A' changed to 'a'; header CRC recomputed",
        |p| p.header[1] = b'a',
    );
    d.parts(
        M,
        spec(
            "major_version_2",
            "R3",
            "12.1",
            "UnsupportedVersion",
            "version_major 2: a 1.x reader must refuse it",
        ),
        "version_major (offset 8) set to 2; header CRC recomputed",
        |p| p.set_header_u16(8, 2),
    );
    d.parts(
        M,
        spec(
            "major_version_0",
            "R3",
            "12.1",
            "UnsupportedVersion",
            "version_major 0",
        ),
        "version_major (offset 8) set to 0; header CRC recomputed",
        |p| p.set_header_u16(8, 0),
    );
    d.bytes(
        M,
        spec(
            "header_crc",
            "R4",
            "3",
            "ChecksumMismatch",
            "The header CRC does not match",
        ),
        "header_crc32 (offset 60) XOR 1",
        |b| b[60] ^= 1,
    );
    d.parts(
        M,
        spec(
            "required_feature_bit0",
            "R5",
            "7.7",
            "UnsupportedFeature",
            "Required feature bit 0 set: 1.0 defines none",
        ),
        "required_features (offset 16) set to 1; header CRC recomputed",
        |p| p.set_header_u64(16, 1),
    );
    d.parts(
        M,
        spec(
            "required_feature_bit63",
            "R5",
            "7.7",
            "UnsupportedFeature",
            "Required feature bit 63 set",
        ),
        "required_features (offset 16) set to 2^63; header CRC recomputed",
        |p| p.set_header_u64(16, 1 << 63),
    );
    d.parts(
        M,
        spec(
            "alignment_not_power_of_two",
            "R6",
            "3",
            "InvalidHeader",
            "Alignment 96 is not a power of two",
        ),
        "alignment (offset 12) set to 96; header CRC recomputed",
        |p| p.set_header_u32(12, 96),
    );
    d.parts(
        M,
        spec(
            "alignment_32",
            "R6",
            "3",
            "InvalidHeader",
            "Alignment 32 is below the minimum of 64",
        ),
        "alignment (offset 12) set to 32; header CRC recomputed",
        |p| p.set_header_u32(12, 32),
    );
    d.parts(
        M,
        spec(
            "alignment_2p25",
            "R6",
            "3",
            "InvalidHeader",
            "Alignment 2^25 is above the maximum of 2^24",
        ),
        "alignment (offset 12) set to 2^25; header CRC recomputed",
        |p| p.set_header_u32(12, 1 << 25),
    );
    d.parts(
        M,
        spec(
            "reserved_header_byte",
            "R7",
            "3",
            "InvalidHeader",
            "A reserved header byte is not zero in a version 1.0 file",
        ),
        "header byte 59 set to 1; header CRC recomputed",
        |p| p.header[59] = 1,
    );
    d.bytes(
        M,
        spec(
            "trailer_magic",
            "R8",
            "5",
            "BadMagic",
            "The trailer magic is wrong",
        ),
        "last byte of the file XOR 1",
        |b| *b.last_mut().expect("non-empty") ^= 1,
    );
    d.bytes(
        M,
        spec(
            "byte_appended",
            "R8",
            "5",
            "BadMagic",
            "One byte appended after the trailer",
        ),
        "a zero byte appended",
        |b| b.push(0),
    );
    d.bytes(
        M,
        spec(
            "trailer_crc",
            "R9",
            "5",
            "ChecksumMismatch",
            "The trailer CRC does not match",
        ),
        "trailer_crc32 (trailer offset 20) XOR 1",
        |b| {
            let at = b.len() - 12;
            b[at] ^= 1;
        },
    );
    d.parts(M, spec("metadata_offset_below_64", "R10", "5", "OutOfBounds", "metadata_offset 32 points into the header"), "metadata_offset set to 32 and metadata_length grown by 32 (so it still ends at the trailer); trailer CRC recomputed", |p| {
        p.metadata_offset = Some(32);
        p.metadata_length = Some(p.metadata.len() as u64 + 32);
    });
    d.parts(
        M,
        spec(
            "metadata_runs_into_trailer",
            "R10",
            "5",
            "OutOfBounds",
            "metadata_length runs one byte into the trailer",
        ),
        "metadata_length grown by 1; trailer CRC recomputed",
        |p| p.metadata_length = Some(p.metadata.len() as u64 + 1),
    );
    d.parts(
        M,
        spec(
            "metadata_end_overflows",
            "R10",
            "1.4",
            "OutOfBounds",
            "metadata_offset + metadata_length overflows u64",
        ),
        "metadata_offset set to 2^64 - 8 and metadata_length to 16; trailer CRC recomputed",
        |p| {
            p.metadata_offset = Some(u64::MAX - 7);
            p.metadata_length = Some(16);
        },
    );
    d.parts(
        "appendix_a_example",
        spec(
            "gap_before_trailer",
            "R11",
            "5",
            "InvalidLayout",
            "The metadata section ends one byte before the trailer",
        ),
        "metadata_length reduced by 1; trailer CRC recomputed",
        |p| p.metadata_length = Some(p.metadata.len() as u64 - 1),
    );
    d.bytes(
        "appendix_a_example",
        spec(
            "metadata_crc",
            "R13",
            "10",
            "ChecksumMismatch",
            "The metadata CRC does not match",
        ),
        "metadata_crc32 (trailer offset 16) XOR 1; trailer CRC recomputed",
        |b| {
            let at = b.len() - 16;
            b[at] ^= 1;
            reseal_trailer(b);
        },
    );
}

fn truncations(d: &mut Deriver<'_>) {
    const P: &str = "alignment_64_padding";
    d.bytes(
        "minimal_none_root",
        spec("empty_file", "R1", "2", "Truncated", "An empty file"),
        "every byte removed",
        Vec::clear,
    );
    d.bytes(
        "minimal_none_root",
        spec(
            "95_bytes",
            "R1",
            "2",
            "Truncated",
            "A 95-byte file, one byte short of a header and a trailer",
        ),
        "cut to 95 bytes",
        |b| b.truncate(95),
    );
    d.bytes(
        P,
        spec(
            "cut_after_header",
            "R1",
            "2",
            "Truncated",
            "The file ends right after the header",
        ),
        "cut to 64 bytes",
        |b| b.truncate(64),
    );
    d.bytes(
        P,
        spec(
            "cut_inside_data",
            "R8",
            "5",
            "BadMagic",
            "The file ends inside the data region",
        ),
        "cut to 100 bytes",
        |b| b.truncate(100),
    );
    d.bytes(
        P,
        spec(
            "cut_after_data",
            "R8",
            "5",
            "BadMagic",
            "The file ends where the metadata section should start",
        ),
        "cut to 160 bytes (the metadata offset)",
        |b| b.truncate(160),
    );
    d.bytes(
        P,
        spec(
            "cut_after_metadata",
            "R8",
            "5",
            "BadMagic",
            "The trailer is missing",
        ),
        "the last 32 bytes removed",
        |b| b.truncate(b.len() - 32),
    );
    d.bytes(
        P,
        spec(
            "cut_inside_trailer",
            "R8",
            "5",
            "BadMagic",
            "The file ends inside the trailer",
        ),
        "the last 12 bytes removed",
        |b| b.truncate(b.len() - 12),
    );

    // The metadata section cut at each of its structure boundaries, the trailer made consistent.
    const A: &str = "appendix_a_example";
    let map = Parts::split(&d.base(A).bytes).map();
    let cuts = [
        (
            "minimal_none_root",
            ("metadata_19_bytes", "R14", "6.2"),
            "A metadata section of 19 bytes, shorter than its header",
            19,
        ),
        (
            A,
            ("metadata_ends_after_header", "R17", "6.3"),
            "The metadata section ends after its header; the string table is missing",
            20,
        ),
        (
            A,
            ("metadata_ends_inside_string", "R18", "6.3"),
            "The metadata section ends inside a string",
            27,
        ),
        (
            A,
            ("metadata_ends_after_strings", "R20", "6.4"),
            "The metadata section ends after the string table",
            map.dtype_table,
        ),
        (
            A,
            ("metadata_ends_after_dtypes", "R36", "6.5"),
            "The metadata section ends after the dtype table",
            map.array_table,
        ),
        (
            A,
            ("metadata_ends_inside_array_entry", "G1", "9.2"),
            "The metadata section ends inside an array entry (at its block_size)",
            map.array_table + 20,
        ),
        (
            A,
            ("metadata_ends_after_arrays", "R49", "6.6"),
            "The metadata section ends after the array table",
            map.node_table,
        ),
        (
            A,
            ("metadata_ends_inside_node", "R51", "6.6"),
            "The metadata section ends inside the last node (a map whose entry is cut)",
            map.end - 4,
        ),
    ];
    for (base, (name, rule, section), description, len) in cuts {
        d.parts(
            base,
            spec(name, rule, section, "Truncated", description),
            &format!("metadata section cut to its first {len} bytes; trailer recomputed"),
            |p| p.metadata.truncate(len),
        );
    }
}

fn metadata_header_and_strings(d: &mut Deriver<'_>) {
    const K: &str = "node_all_kinds";
    d.parts(
        K,
        spec(
            "string_count_over_limit",
            "R15",
            "11.2",
            "LimitExceeded",
            "string_count 16,777,217 exceeds max_strings (checked before the bytes that remain)",
        ),
        "string_count set to 2^24 + 1",
        |p| p.set_u32(0, (1 << 24) + 1),
    );
    d.parts(
        K,
        spec(
            "dtype_count_over_limit",
            "R15",
            "11.2",
            "LimitExceeded",
            "dtype_count 65,537 exceeds max_dtypes",
        ),
        "dtype_count set to 65,537",
        |p| p.set_u32(4, 65_537),
    );
    d.parts(
        K,
        spec(
            "array_count_over_limit",
            "R15",
            "11.2",
            "LimitExceeded",
            "array_count 1,048,577 exceeds max_arrays",
        ),
        "array_count set to 2^20 + 1",
        |p| p.set_u32(8, (1 << 20) + 1),
    );
    d.parts(K, spec("node_count_over_limit", "R15", "11.2", "LimitExceeded", "node_count 16,777,217 exceeds max_nodes (R15 comes before R49, so no 16 MiB node table is needed)"), "node_count set to 2^24 + 1", |p| p.set_u32(12, (1 << 24) + 1));
    d.parts(
        K,
        spec(
            "root_out_of_range",
            "R16",
            "6.2",
            "InvalidIndex",
            "The root index equals node_count",
        ),
        "root set to 17 (node_count)",
        |p| p.set_u32(16, 17),
    );
    d.parts(
        "minimal_none_root",
        spec(
            "no_nodes",
            "R16",
            "6.2",
            "InvalidIndex",
            "node_count 0: no node can be the root",
        ),
        "node_count set to 0",
        |p| p.set_u32(12, 0),
    );
    d.parts(
        K,
        spec(
            "string_count_exceeds_bytes",
            "R17",
            "6.1",
            "Truncated",
            "string_count 16,777,216 (at the limit) cannot fit in the section",
        ),
        "string_count set to 2^24",
        |p| p.set_u32(0, 1 << 24),
    );
    d.parts(
        K,
        spec(
            "string_length_past_end",
            "R18",
            "6.3",
            "Truncated",
            "A string's byte_length runs past the end of the section",
        ),
        "string 0 byte_length set to 2^32 - 1",
        |p| {
            let at = p.map().strings[0];
            p.set_u32(at, u32::MAX);
        },
    );
    let utf8: [(&'static str, &'static str, &'static [u8]); 5] = [
        (
            "utf8_overlong",
            "An overlong UTF-8 encoding (C0 80 for U+0000)",
            b"\xC0\x80",
        ),
        (
            "utf8_surrogate",
            "A UTF-8 encoded surrogate code point (ED A0 80, U+D800)",
            b"\xED\xA0\x80",
        ),
        (
            "utf8_above_10ffff",
            "A UTF-8 sequence above U+10FFFF (F4 90 80 80)",
            b"\xF4\x90\x80\x80",
        ),
        (
            "utf8_lone_continuation",
            "A lone UTF-8 continuation byte (80)",
            b"\x80",
        ),
        (
            "utf8_cut_sequence",
            "A UTF-8 sequence cut short at the end of the string (E2 82)",
            b"\xE2\x82",
        ),
    ];
    for (name, description, bad) in utf8 {
        let at_end = name == "utf8_cut_sequence";
        let doc = format!(
            "string 0 (\"pkg.Type\") has its {} bytes replaced by {}",
            if at_end { "last" } else { "first" },
            hex::encode_upper(bad)
        );
        d.parts(
            K,
            spec(name, "R19", "6.3", "InvalidUtf8", description),
            &doc,
            |p| {
                let text = string_text(p, 0);
                let start = if at_end { text.end - bad.len() } else { text.start };
                p.metadata[start..start + bad.len()].copy_from_slice(bad);
            },
        );
    }
}

fn dtypes(d: &mut Deriver<'_>) {
    const F32: &str = "dtype_float32";
    const DT: &str = "dtype_datetime64_every_unit";
    const R: &str = "dtype_record_nested_shared_subarray"; // dtypes: int32, uint16, inner, float32, outer
    const E: &str = "dtype_record_expanded_fields_at_limit"; // dtypes: uint8, leaf, outer
    d.parts(
        "appendix_a_example",
        spec(
            "dtype_count_exceeds_bytes",
            "R20",
            "6.4",
            "Truncated",
            "dtype_count 65,536 (at the limit) cannot fit in the section",
        ),
        "dtype_count set to 65,536",
        |p| p.set_u32(4, 65_536),
    );
    for (code, name) in [
        (0u8, "dtype_code_0"),
        (18, "dtype_code_18"),
        (37, "dtype_code_37"),
        (255, "dtype_code_255"),
    ] {
        let doc = format!("dtype 0 code set to {code}");
        d.parts(
            F32,
            spec(name, "R21", "7.1", "InvalidDtype", "A reserved dtype code"),
            &doc,
            |p| {
                let at = p.map().dtypes[0];
                p.set_u8(at, code);
            },
        );
    }
    d.parts(
        "dtype_bytes_S5",
        spec(
            "bytes_length_0",
            "R22",
            "6.4",
            "InvalidDtype",
            "A bytes dtype of length 0",
        ),
        "dtype 0 (S5) n set to 0",
        |p| p.set_u32(p.map().dtypes[0] + 1, 0),
    );
    d.parts(
        "dtype_unicode_U3",
        spec(
            "unicode_itemsize_2p31",
            "R22",
            "6.4",
            "InvalidDtype",
            "A unicode dtype whose itemsize 4n is 2^31, above 2^31 - 1",
        ),
        "dtype 0 (U3) n set to 2^29",
        |p| p.set_u32(p.map().dtypes[0] + 1, 1 << 29),
    );
    d.parts(
        "dtype_void_V3",
        spec(
            "void_itemsize_2p31",
            "R22",
            "6.4",
            "InvalidDtype",
            "A void dtype of itemsize 2^31",
        ),
        "dtype 0 (V3) n set to 2^31",
        |p| p.set_u32(p.map().dtypes[0] + 1, 1 << 31),
    );
    d.parts(
        DT,
        spec(
            "datetime_unit_14",
            "R23",
            "7.2",
            "InvalidDtype",
            "A datetime64 dtype with the reserved unit code 14",
        ),
        "dtype 0 unit set to 14",
        |p| p.set_u8(p.map().dtypes[0] + 1, 14),
    );
    d.parts(
        DT,
        spec(
            "generic_unit_count_2",
            "R24",
            "6.4",
            "InvalidDtype",
            "A generic datetime64 with count 2",
        ),
        "dtype 0 (generic) count set to 2",
        |p| p.set_u32(p.map().dtypes[0] + 2, 2),
    );
    d.parts(
        DT,
        spec(
            "time_unit_count_0",
            "R24",
            "6.4",
            "InvalidDtype",
            "A datetime64[Y] with count 0",
        ),
        "dtype 1 (Y) count set to 0",
        |p| p.set_u32(p.map().dtypes[1] + 2, 0),
    );
    d.parts(
        R,
        spec(
            "record_itemsize_0",
            "R25",
            "6.4",
            "InvalidDtype",
            "A record of itemsize 0",
        ),
        "dtype 4 (outer record) itemsize set to 0",
        |p| p.set_u32(p.map().dtypes[4] + 1, 0),
    );
    d.parts(
        R,
        spec(
            "record_itemsize_2p31",
            "R25",
            "6.4",
            "InvalidDtype",
            "A record of itemsize 2^31",
        ),
        "dtype 4 (outer record) itemsize set to 2^31",
        |p| p.set_u32(p.map().dtypes[4] + 1, 1 << 31),
    );
    d.parts(
        E,
        spec(
            "record_field_count_over_limit",
            "R26",
            "11.2",
            "LimitExceeded",
            "A record declaring 65,537 fields, above max_record_fields",
        ),
        "dtype 2 field_count set to 65,537",
        |p| p.set_u32(p.map().dtypes[2] + 5, 65_537),
    );
    d.parts(
        R,
        spec(
            "record_field_count_exceeds_bytes",
            "R27",
            "6.4",
            "Truncated",
            "A record declaring more fields than the section can hold",
        ),
        "dtype 4 field_count set to 1,000",
        |p| p.set_u32(p.map().dtypes[4] + 5, 1000),
    );
    d.parts(
        R,
        spec(
            "record_field_name_dangling",
            "R28",
            "6.4",
            "InvalidIndex",
            "A record field names a string that does not exist",
        ),
        "dtype 2 field 0 name set to string_count",
        |p| {
            let strings = p.get_u32(0);
            p.set_u32(record_field(p, 2, 0), strings);
        },
    );
    d.parts(
        R,
        spec(
            "record_duplicate_field_name",
            "R29",
            "6.4",
            "InvalidDtype",
            "Two fields of one record have the same name",
        ),
        "dtype 2 field 1 name set to field 0's name",
        |p| {
            let first = p.get_u32(record_field(p, 2, 0));
            p.set_u32(record_field(p, 2, 1), first);
        },
    );
    d.parts(
        R,
        spec(
            "record_field_dtype_not_earlier",
            "R30",
            "6.4",
            "InvalidDtype",
            "A record field refers to the record itself",
        ),
        "dtype 2 field 0 dtype set to 2",
        |p| p.set_u32(record_field(p, 2, 0) + 8, 2),
    );
    d.parts("dtype_record_depth_32", spec("record_depth_33", "R31", "11.2", "LimitExceeded", "Records nested 33 deep, above max_dtype_depth"), "a 33rd record (itemsize 1, one field \"x\" whose dtype is the 32-deep record, the last entry) appended to the dtype table; dtype_count + 1", |p| {
        let end = p.map().array_table;
        let deepest = p.get_u32(4) - 1;
        let mut entry = vec![48];
        entry.extend_from_slice(&1u32.to_le_bytes()); // itemsize
        entry.extend_from_slice(&1u32.to_le_bytes()); // field_count
        entry.extend_from_slice(&0u32.to_le_bytes()); // name: string 0, "x"
        entry.extend_from_slice(&0u32.to_le_bytes()); // offset
        entry.extend_from_slice(&deepest.to_le_bytes());
        entry.push(0); // ndim
        p.metadata.splice(end..end, entry);
        let count = p.get_u32(4);
        p.set_u32(4, count + 1);
    });
    d.parts(E, spec("record_expanded_fields_over_limit", "R32", "17.7", "LimitExceeded", "A record whose expanded field count is 65,792 through a shared sub-record, above max_record_fields"), "dtype 2 field 255 dtype changed from 0 (uint8) to 1 (the 256-field record)", |p| p.set_u32(record_field(p, 2, 255) + 8, 1));
    d.parts(
        R,
        spec(
            "record_subarray_ndim_65",
            "R33",
            "6.4",
            "LimitExceeded",
            "A record subarray field with 65 dimensions",
        ),
        "dtype 4 field 2 (m) ndim set to 65",
        |p| p.set_u8(record_field(p, 4, 2) + 12, 65),
    );
    d.parts(
        R,
        spec(
            "record_field_past_itemsize",
            "R34",
            "6.4",
            "InvalidDtype",
            "A record field ends past the record's itemsize",
        ),
        "dtype 4 field 2 (m, 24 bytes) offset set to 17 in a 40-byte record",
        |p| p.set_u32(record_field(p, 4, 2) + 4, 17),
    );
    d.parts(
        R,
        spec(
            "record_field_size_overflows",
            "R34",
            "1.4",
            "InvalidDtype",
            "A record subarray field whose size overflows u64",
        ),
        "dtype 4 field 2 (m) shape set to [2^62, 8]",
        |p| {
            let shape = record_field(p, 4, 2) + 13;
            p.set_u64(shape, 1 << 62);
            p.set_u64(shape + 8, 8);
        },
    );
    d.parts(
        R,
        spec(
            "record_fields_overlap",
            "R35",
            "6.4",
            "InvalidDtype",
            "Two record fields overlap",
        ),
        "dtype 4 field 1 (q, 8 bytes at 8) offset set to 4, overlapping field 0 [0, 8)",
        |p| p.set_u32(record_field(p, 4, 1) + 4, 4),
    );
    d.parts(
        "dtype_record_zero_size_fields",
        spec(
            "record_zero_size_field_inside",
            "R35",
            "6.4",
            "InvalidDtype",
            "A zero-size field strictly inside another field",
        ),
        "dtype 3 field 1 (empty_at_end, size 0) offset set from 8 to 4, inside field 0 [0, 8)",
        |p| p.set_u32(record_field(p, 3, 1) + 4, 4),
    );
}

fn arrays(d: &mut Deriver<'_>) {
    const F32: &str = "dtype_float32"; // one raw float32 [5]
    const MB: &str = "codec_zstd_many_blocks_short_final"; // zstd int32 [250], 64-byte blocks
    let a0 = |p: &Parts| p.map().arrays[0].clone();
    d.parts(
        "appendix_a_example",
        spec(
            "array_count_exceeds_bytes",
            "R36",
            "6.5",
            "Truncated",
            "array_count 1,048,576 (at the limit) cannot fit in the section",
        ),
        "array_count set to 2^20",
        |p| p.set_u32(8, 1 << 20),
    );
    d.parts(
        F32,
        spec(
            "array_dtype_dangling",
            "R37",
            "6.5",
            "InvalidIndex",
            "An array refers to a dtype that does not exist",
        ),
        "array 0 dtype set to 1 (dtype_count)",
        |p| p.set_u32(a0(p).entry, 1),
    );
    d.parts(
        F32,
        spec(
            "array_order_2",
            "R38",
            "7.3",
            "InvalidArray",
            "An array with order code 2",
        ),
        "array 0 order set to 2",
        |p| p.set_u8(a0(p).order(), 2),
    );
    d.parts(
        F32,
        spec(
            "array_codec_2",
            "R39",
            "7.4",
            "InvalidArray",
            "An array with codec code 2",
        ),
        "array 0 codec set to 2",
        |p| p.set_u8(a0(p).codec(), 2),
    );
    d.parts(
        MB,
        spec(
            "array_filter_2",
            "R40",
            "7.5",
            "InvalidArray",
            "An array with filter code 2",
        ),
        "array 0 filter set to 2",
        |p| p.set_u8(a0(p).filter(), 2),
    );
    d.parts(
        F32,
        spec(
            "shuffle_on_raw_array",
            "R40",
            "7.5",
            "InvalidArray",
            "The byte-shuffle filter on a raw (codec 0) array",
        ),
        "array 0 filter set to 1",
        |p| p.set_u8(a0(p).filter(), 1),
    );
    d.parts(
        F32,
        spec(
            "array_ndim_65",
            "R41",
            "11.1",
            "LimitExceeded",
            "An array with 65 dimensions",
        ),
        "array 0 ndim set to 65",
        |p| p.set_u8(a0(p).ndim_field(), 65),
    );
    d.parts("shape_empty", spec("nbytes_overflow_with_zero_dim", "R42", "6.5", "LimitExceeded", "Shape [2^40, 2^40, 0]: itemsize x the non-zero dimensions overflows u64, even though nbytes would be 0"), "array 0 shape set from [3, 0, 2] to [2^40, 2^40, 0]", |p| {
        let shape = a0(p).shape;
        p.set_u64(shape, 1 << 40);
        p.set_u64(shape + 8, 1 << 40);
        p.set_u64(shape + 16, 0);
    });
    d.parts(
        F32,
        spec(
            "raw_block_size_nonzero",
            "R43",
            "6.5",
            "InvalidArray",
            "A raw array with block_size 4",
        ),
        "array 0 block_size set to 4",
        |p| p.set_u64(a0(p).block_size, 4),
    );
    d.parts(
        MB,
        spec(
            "block_size_0",
            "R44",
            "11.1",
            "LimitExceeded",
            "A zstd array with block_size 0",
        ),
        "array 0 block_size set to 0",
        |p| p.set_u64(a0(p).block_size, 0),
    );
    d.parts(
        MB,
        spec(
            "block_size_over_2p30",
            "R44",
            "11.1",
            "LimitExceeded",
            "A zstd array with block_size 2^30 + 4",
        ),
        "array 0 block_size set to 2^30 + 4",
        |p| p.set_u64(a0(p).block_size, (1 << 30) + 4),
    );
    d.parts(
        MB,
        spec(
            "block_size_not_multiple_of_itemsize",
            "R45",
            "6.5",
            "InvalidArray",
            "block_size 66 is not a multiple of the int32 itemsize",
        ),
        "array 0 block_size set to 66",
        |p| p.set_u64(a0(p).block_size, 66),
    );
    d.parts(
        F32,
        spec(
            "raw_extent_count_2",
            "R46",
            "6.5",
            "LengthMismatch",
            "A raw array with 2 extents",
        ),
        "array 0 extent_count set to 2",
        |p| p.set_u32(a0(p).extent_count, 2),
    );
    d.parts(
        MB,
        spec(
            "block_count_short",
            "R46",
            "6.5",
            "LengthMismatch",
            "A zstd array with one extent fewer than ceil(nbytes / block_size)",
        ),
        "array 0 extent_count set from 16 to 15",
        |p| p.set_u32(a0(p).extent_count, 15),
    );
    d.parts(
        MB,
        spec(
            "extent_count_exceeds_bytes",
            "R47",
            "6.5",
            "Truncated",
            "A zstd array whose 2^20 expected extents cannot fit in the section",
        ),
        "array 0 shape set to [2^24] (2^20 blocks of 64 bytes) and extent_count to 2^20",
        |p| {
            let a = a0(p);
            p.set_u64(a.shape, 1 << 24);
            p.set_u32(a.extent_count, 1 << 20);
        },
    );
    d.parts(
        F32,
        spec(
            "raw_stored_length_mismatch",
            "R48",
            "6.5",
            "LengthMismatch",
            "A raw extent whose stored_length (24) is not shape x itemsize (20)",
        ),
        "array 0 extent 0 stored_length set to 24",
        |p| p.set_u64(a0(p).extents[0] + 8, 24),
    );
    d.parts(
        F32,
        spec(
            "shape_disagrees_with_stored_length",
            "R48",
            "6.5",
            "LengthMismatch",
            "shape x itemsize (24) differs from the raw extent's stored_length (20)",
        ),
        "array 0 shape set from [5] to [6]",
        |p| p.set_u64(a0(p).shape, 6),
    );
    d.parts(
        MB,
        spec(
            "zstd_stored_length_0",
            "R48",
            "6.5",
            "LengthMismatch",
            "A compressed block of stored_length 0",
        ),
        "array 0 extent 3 stored_length set to 0",
        |p| p.set_u64(a0(p).extents[3] + 8, 0),
    );
}

fn nodes(d: &mut Deriver<'_>) {
    const K: &str = "node_all_kinds"; // node k has kind k; 17 nodes, 1 array, 2 strings
    let node = |p: &Parts, k: usize| p.map().nodes[k];
    d.parts(
        K,
        spec(
            "node_count_exceeds_bytes",
            "R49",
            "6.6",
            "Truncated",
            "node_count 16,777,216 (at the limit) cannot fit in the section",
        ),
        "node_count set to 2^24",
        |p| p.set_u32(12, 1 << 24),
    );
    d.parts(
        K,
        spec(
            "node_kind_17",
            "R50",
            "7.6",
            "InvalidNode",
            "A node of the reserved kind 17",
        ),
        "node 0 (none) kind set to 17",
        |p| p.set_u8(node(p, 0), 17),
    );
    d.parts(
        K,
        spec(
            "node_kind_255",
            "R50",
            "7.6",
            "InvalidNode",
            "A node of the reserved kind 255",
        ),
        "node 0 (none) kind set to 255",
        |p| p.set_u8(node(p, 0), 255),
    );
    d.parts(
        K,
        spec(
            "bool_2",
            "R51",
            "6.6",
            "InvalidNode",
            "A bool node with value byte 2",
        ),
        "node 1 value set to 2",
        |p| p.set_u8(node(p, 1) + 1, 2),
    );
    d.parts(
        K,
        spec(
            "bigint_not_minimal",
            "R51",
            "6.6",
            "InvalidNode",
            "A bigint with a redundant sign byte (2^64 in 10 bytes)",
        ),
        "node 3 bytes changed from 2^72 to 00 x8, 01, 00",
        |p| {
            let at = node(p, 3) + 5;
            p.set_u8(at + 8, 1);
            p.set_u8(at + 9, 0);
        },
    );
    d.parts(
        K,
        spec(
            "bigint_fits_i64",
            "R51",
            "6.6",
            "InvalidNode",
            "A bigint of 8 bytes, which fits in i64 and must be an int node",
        ),
        "node 3 len set to 8 and its last 2 bytes removed",
        |p| {
            let at = node(p, 3);
            p.set_u32(at + 1, 8);
            p.metadata.drain(at + 5 + 8..at + 5 + 10);
        },
    );
    d.parts(
        "node_bigints",
        spec(
            "bigint_over_limit",
            "R51",
            "11.2",
            "LimitExceeded",
            "A bigint of 1,025 bytes, above max_bigint_bytes",
        ),
        "the 1,024-byte bigint (node 4) grown to 1,025 bytes by appending 01",
        |p| {
            let at = p.map().nodes[4];
            p.set_u32(at + 1, 1025);
            p.metadata.insert(at + 5 + 1024, 1);
        },
    );
    d.parts(
        K,
        spec(
            "bigint_length_past_end",
            "R51",
            "6.6",
            "Truncated",
            "A bigint whose len runs past the end of the section",
        ),
        "node 3 len set to 2^31 - 1",
        |p| p.set_u32(node(p, 3) + 1, i32::MAX as u32),
    );
    d.parts(
        K,
        spec(
            "str_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "A str node refers to a string that does not exist",
        ),
        "node 6 string set to 2 (string_count)",
        |p| p.set_u32(node(p, 6) + 1, 2),
    );
    d.parts(
        K,
        spec(
            "bytes_length_past_end",
            "R51",
            "6.6",
            "Truncated",
            "A bytes node whose len runs past the end of the section",
        ),
        "node 7 len set to 2^32 - 1",
        |p| p.set_u32(node(p, 7) + 1, u32::MAX),
    );
    d.parts(
        K,
        spec(
            "list_count_exceeds_bytes",
            "R51",
            "6.6",
            "Truncated",
            "A list whose count cannot fit in the section",
        ),
        "node 8 count set to 2^28",
        |p| p.set_u32(node(p, 8) + 1, 1 << 28),
    );
    d.parts(
        K,
        spec(
            "list_item_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "A list item refers to a node that does not exist",
        ),
        "node 8 item 3 set to 17 (node_count)",
        |p| p.set_u32(node(p, 8) + 5 + 12, 17),
    );
    d.parts(
        K,
        spec(
            "set_item_none",
            "R51",
            "6.6",
            "InvalidIndex",
            "A set item is NONE (0xFFFFFFFF), which only object nodes allow",
        ),
        "node 10 item 0 set to 0xFFFFFFFF",
        |p| p.set_u32(node(p, 10) + 5, u32::MAX),
    );
    d.parts(
        K,
        spec(
            "map_key_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "A map key refers to a node that does not exist",
        ),
        "node 12 entry 0 key set to 17",
        |p| p.set_u32(node(p, 12) + 5, 17),
    );
    d.parts(
        K,
        spec(
            "map_value_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "A map value refers to a node that does not exist",
        ),
        "node 12 entry 0 value set to 1000",
        |p| p.set_u32(node(p, 12) + 9, 1000),
    );
    d.parts(
        K,
        spec(
            "array_node_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "An array node refers to an array that does not exist",
        ),
        "node 13 array set to 1 (array_count)",
        |p| p.set_u32(node(p, 13) + 1, 1),
    );
    d.parts(
        K,
        spec(
            "object_array_order_2",
            "R51",
            "7.3",
            "InvalidNode",
            "An object_array with order code 2",
        ),
        "node 14 order set to 2",
        |p| p.set_u8(node(p, 14) + 1, 2),
    );
    d.parts(
        K,
        spec(
            "object_array_ndim_65",
            "R51",
            "11.1",
            "LimitExceeded",
            "An object_array with 65 dimensions",
        ),
        "node 14 ndim set to 65",
        |p| p.set_u8(node(p, 14) + 2, 65),
    );
    d.parts(
        K,
        spec(
            "object_array_count_overflows",
            "R51",
            "6.6",
            "LimitExceeded",
            "An object_array whose element count 2^32 x 2^32 overflows u64",
        ),
        "node 14 given a second dimension: ndim 2, shape [2^32, 2^32] (8 bytes inserted)",
        |p| {
            let at = node(p, 14);
            p.set_u8(at + 2, 2);
            p.set_u64(at + 3, 1 << 32);
            p.metadata.splice(at + 11..at + 11, (1u64 << 32).to_le_bytes());
        },
    );
    d.parts(
        K,
        spec(
            "object_array_items_exceed_bytes",
            "R51",
            "6.6",
            "Truncated",
            "An object_array whose 2^30 items cannot fit in the section",
        ),
        "node 14 shape set to [2^30]",
        |p| p.set_u64(node(p, 14) + 3, 1 << 30),
    );
    d.parts(
        K,
        spec(
            "object_type_name_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "An object's type name refers to a string that does not exist",
        ),
        "node 15 type_name set to 2 (string_count)",
        |p| p.set_u32(node(p, 15) + 1, 2),
    );
    d.parts(
        K,
        spec(
            "object_args_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "An object's args refers to a node that does not exist",
        ),
        "node 15 args set to 17",
        |p| p.set_u32(node(p, 15) + 5, 17),
    );
    d.parts(
        K,
        spec(
            "object_state_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "An object's state is 0xFFFFFFFE: neither NONE nor a node",
        ),
        "node 15 state set to 0xFFFFFFFE",
        |p| p.set_u32(node(p, 15) + 9, u32::MAX - 1),
    );
    d.parts(
        K,
        spec(
            "global_dangling",
            "R51",
            "6.6",
            "InvalidIndex",
            "A global node refers to a string that does not exist",
        ),
        "node 16 name set to 2 (string_count)",
        |p| p.set_u32(node(p, 16) + 1, 2),
    );
    d.parts(
        K,
        spec(
            "trailing_metadata_bytes",
            "R52",
            "6.7",
            "TrailingBytes",
            "A 1.0 file with a byte after the node table",
        ),
        "one zero byte appended to the metadata section",
        |p| p.metadata.push(0),
    );
}

fn layout(d: &mut Deriver<'_>) {
    const P: &str = "alignment_64_padding"; // uint8 [3] at 64, padding, float64 [4] at 128, metadata at 160
    const MB: &str = "codec_zstd_many_blocks_short_final";
    let extent = |p: &Parts, array: usize, index: usize| p.map().arrays[array].extents[index];
    d.parts(
        P,
        spec(
            "raw_extent_misaligned",
            "R53",
            "4.2",
            "InvalidLayout",
            "A raw extent at offset 120, not a multiple of the alignment 64",
        ),
        "array 1 extent offset set from 128 to 120; its CRC recomputed over the bytes it now covers",
        |p| {
            p.set_u64(extent(p, 1, 0), 120);
            p.fix_extent_crcs();
        },
    );
    d.parts(
        P,
        spec(
            "raw_extent_after_gap",
            "R53",
            "4.2",
            "InvalidLayout",
            "A raw extent at 192, aligned but not the first aligned offset after the previous extent",
        ),
        "array 1 extent offset set from 128 to 192",
        |p| p.set_u64(extent(p, 1, 0), 192),
    );
    d.parts(
        MB,
        spec(
            "blocks_overlap",
            "R53",
            "4.2",
            "InvalidLayout",
            "Two compressed blocks start at the same offset",
        ),
        "extent 1 offset set to extent 0's; CRCs recomputed",
        |p| {
            let first = p.get_u64(extent(p, 0, 0));
            p.set_u64(extent(p, 0, 1), first);
            p.fix_extent_crcs();
        },
    );
    d.parts(
        "order_c_and_f",
        spec(
            "extents_unsorted",
            "R53",
            "4.2",
            "InvalidLayout",
            "The extents of two arrays are in the opposite order of the array table",
        ),
        "the extent offsets of arrays 0 and 1 (64 and 128) swapped; CRCs recomputed",
        |p| {
            let (first, second) = (extent(p, 0, 0), extent(p, 1, 0));
            let (a, b) = (p.get_u64(first), p.get_u64(second));
            p.set_u64(first, b);
            p.set_u64(second, a);
            p.fix_extent_crcs();
        },
    );
    d.parts(
        MB,
        spec(
            "gap_between_blocks",
            "R53",
            "4.2",
            "InvalidLayout",
            "A zero byte between two compressed blocks, which must be packed",
        ),
        "one zero byte inserted before block 1; later extent offsets moved by 1",
        |p| {
            let at = p.get_u64(extent(p, 0, 1));
            p.insert_data(at, &[0]);
        },
    );
    d.parts(
        MB,
        spec(
            "block_runs_into_metadata",
            "R54",
            "4.2",
            "OutOfBounds",
            "The last block's stored_length runs one byte into the metadata section",
        ),
        "array 0 extent 15 stored_length + 1",
        |p| {
            let at = extent(p, 0, 15) + 8;
            let length = p.get_u64(at);
            p.set_u64(at, length + 1);
        },
    );
    d.parts(
        MB,
        spec(
            "block_end_overflows",
            "R54",
            "1.4",
            "OutOfBounds",
            "offset + stored_length of a block overflows u64",
        ),
        "array 0 extent 15 stored_length set to 2^64 - 1",
        |p| p.set_u64(extent(p, 0, 15) + 8, u64::MAX),
    );
    d.parts(
        P,
        spec(
            "nonzero_padding",
            "R55",
            "4.4",
            "NonZeroPadding",
            "A padding byte before a raw extent is not zero",
        ),
        "padding byte at offset 77 set to 0xAA",
        |p| p.data[77 - HEADER_LEN] = 0xAA,
    );
    d.parts(
        P,
        spec(
            "bytes_before_metadata",
            "R56",
            "4.2",
            "InvalidLayout",
            "A byte between the last extent and the metadata section",
        ),
        "one zero byte inserted at the end of the data region (offset 160); the metadata moves to 161",
        |p| p.insert_data(160, &[0]),
    );
}

fn data(d: &mut Deriver<'_>) {
    const ZS: &str = "codec_zstd_single_block"; // uint8 [64], values 0..64, one block
    let block: Vec<u8> = (0..64).collect();
    let compress = |bytes: &[u8]| zstd::bulk::compress(bytes, 3).expect("zstd compresses");
    d.parts(
        "alignment_64_padding",
        spec(
            "raw_extent_crc",
            "R58",
            "10",
            "ChecksumMismatch",
            "A raw array's bytes do not match its extent CRC",
        ),
        "data byte at offset 128 XOR 1; CRC left as it was",
        |p| p.data[128 - HEADER_LEN] ^= 1,
    );
    d.parts(
        "codec_zstd_many_blocks_short_final",
        spec(
            "block_crc",
            "R58",
            "8.4",
            "ChecksumMismatch",
            "A compressed block's bytes do not match its CRC",
        ),
        "last byte of block 2 XOR 1; CRC left as it was",
        |p| {
            let record = p.map().arrays[0].extents[2];
            let end = (p.get_u64(record) + p.get_u64(record + 8)) as usize - HEADER_LEN;
            p.data[end - 1] ^= 1;
        },
    );
    let mut frames: Vec<(Spec, &str, Vec<u8>)> = vec![
        (spec("block_inflates_past_declared_size", "R59", "17.5", "CorruptBlock", "Decompression bomb: a 64-byte block whose frame inflates to 1 MiB"), "block replaced by a zstd frame of 1 MiB of zeros", compress(&vec![0; 1 << 20])),
        (spec("block_decodes_short", "R59", "8.2", "CorruptBlock", "A block whose frame decodes to 32 of its 64 bytes"), "block replaced by a zstd frame of its first 32 bytes", compress(&block[..32])),
        (spec("two_frames_in_block", "R59", "8.2", "CorruptBlock", "A block of two concatenated frames (32 + 32 bytes)"), "block replaced by two zstd frames of 32 bytes each", [compress(&block[..32]), compress(&block[32..])].concat()),
        (spec("bytes_after_frame", "R59", "8.2", "CorruptBlock", "A block with a byte after its zstd frame"), "a zero byte appended to the block's frame", [compress(&block), vec![0]].concat()),
        (spec("skippable_frame_in_block", "R59", "8.2", "CorruptBlock", "A block that starts with a skippable frame"), "an empty skippable frame (50 2A 4D 18, size 0) put before the block's frame", [vec![0x50, 0x2A, 0x4D, 0x18, 0, 0, 0, 0], compress(&block)].concat()),
        (spec("frame_declares_dictionary", "R59", "8.2", "CorruptBlock", "A frame that declares Dictionary_ID 1"), "block replaced by a hand-built frame: single segment, Dictionary_ID 1, Frame_Content_Size 64, one raw block", dictionary_frame(&block)),
        (spec("frame_content_size_mismatch", "R59", "8.2", "CorruptBlock", "A frame whose Frame_Content_Size (63) differs from the block's 64 bytes"), "block replaced by a hand-built frame: single segment, Frame_Content_Size 63, one raw block of 64 bytes", content_size_frame(63, &block)),
        (spec("frame_checksum_wrong", "R59", "8.2", "CorruptBlock", "A frame whose content checksum does not match"), "block replaced by a zstd frame with a content checksum, its last byte XOR 1", bad_checksum_frame(&block)),
        (spec("block_not_zstd", "R59", "8.2", "CorruptBlock", "A block that is not a zstd frame"), "block replaced by 32 bytes of text", b"this is not a zstd frame at all!".to_vec()),
        (spec("legacy_v07_frame", "R59", "8.2", "CorruptBlock", "A block holding a pre-RFC 8878 (v0.7) zstd frame, which a legacy-enabled libzstd decodes"), "block replaced by a hand-built v0.7 frame: magic 27 B5 2F FD, direct mode, Frame_Content_Size 64, one raw block, end block", legacy_v07_frame(&block)),
    ];
    for (spec, corruption, frame) in frames.drain(..) {
        let doc = format!("{corruption}; extent stored_length and CRC updated");
        d.parts(ZS, spec, &doc, |p| p.replace_last_extent(&frame));
    }
    let base = d.base(ZS);
    let Expect::Accept(rendering) = &base.expect else {
        unreachable!("valid cases are accepted")
    };
    d.out.push(window_over_2p30(base, rendering.clone()));
    let bomb = declared_size_over_limit(base);
    d.out.push(bomb);
}

/// Single segment, Dictionary_ID (1 byte) = 1, Frame_Content_Size (1 byte), one raw block.
fn dictionary_frame(content: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0x21, 1, content.len() as u8];
    frame.extend_from_slice(&(1 | ((content.len() as u32) << 3)).to_le_bytes()[..3]);
    frame.extend_from_slice(content);
    frame
}

/// Single segment with a 1-byte Frame_Content_Size of `declared`, one raw block of `content`.
fn content_size_frame(declared: u8, content: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0x20, declared];
    frame.extend_from_slice(&(1 | ((content.len() as u32) << 3)).to_le_bytes()[..3]);
    frame.extend_from_slice(content);
    frame
}

/// A zstd v0.7 frame (legacy, before RFC 8878): magic 0xFD2FB527, a frame header byte with
/// direct mode (window = content size) and a 1-byte content size, one raw block, an end block.
fn legacy_v07_frame(content: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x27, 0xB5, 0x2F, 0xFD, 0x20, content.len() as u8];
    // v0.7 block header: 2-bit type (1 = raw) then a 19-bit size, big-endian in 3 bytes.
    frame.extend_from_slice(&[0x40, 0, content.len() as u8]);
    frame.extend_from_slice(content);
    frame.extend_from_slice(&[0xC0, 0, 0]);
    frame
}

fn bad_checksum_frame(content: &[u8]) -> Vec<u8> {
    let mut frame = libzstd_frame(content, 3, true, true);
    *frame.last_mut().expect("a frame is not empty") ^= 1;
    frame
}

/// Readers MUST accept windows up to 2^30 and MAY reject larger ones (spec 8.2).
fn window_over_2p30(base: &Case, rendering: Json) -> Case {
    let block: Vec<u8> = (0..64).collect();
    let mut parts = Parts::split(&base.bytes);
    parts.replace_last_extent(&raw_block_frame(0xA8, &block));
    Case {
        name: "i_R59_window_2p31.amber".into(),
        description: "A frame declaring Window_Size 2^31: readers MAY reject windows above 2^30 with CorruptBlock, or decode it".into(),
        section: "8.2",
        rule: Some("R59"),
        expect: Expect::Either(rendering, "CorruptBlock"),
        derived_from: Some(base.path()),
        corruption: Some("block replaced by a hand-built frame: Window_Descriptor 0xA8 (2^31), no content size, one raw block of 64 bytes; extent stored_length and CRC updated".into()),
        bytes: parts.assemble(),
        zero_run: None,
    }
}

/// A zstd frame of `len` zero bytes made of run-length blocks: 4 bytes per 128 KiB.
fn zero_frame(len: u64) -> Vec<u8> {
    const MAX_BLOCK: u64 = 128 << 10;
    // Single segment with an 8-byte Frame_Content_Size: the window is the content size.
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0xE0];
    frame.extend_from_slice(&len.to_le_bytes());
    let mut left = len;
    while left > 0 {
        let size = left.min(MAX_BLOCK);
        left -= size;
        let header = u32::from(left == 0) | (1 << 1) | ((size as u32) << 3); // RLE block
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.push(0);
    }
    frame
}

/// A uint8 array of 4 GiB + 1 bytes: five real blocks (four 1 GiB run-length frames and one
/// byte) totalling about 128 KiB. R57 fails before any allocation.
fn declared_size_over_limit(base: &Case) -> Case {
    const GIB: u64 = 1 << 30;
    let mut parts = Parts::split(&base.bytes);
    let array = parts.map().arrays[0].clone();
    let first_block = parts.get_u64(array.extents[0]);
    let giant = zero_frame(GIB);
    let mut records = Vec::new();
    let mut offset = first_block;
    let mut frames = Vec::new();
    for _ in 0..4 {
        records.extend_from_slice(&offset.to_le_bytes());
        records.extend_from_slice(&(giant.len() as u64).to_le_bytes());
        records.extend_from_slice(&crc32(&giant).to_le_bytes());
        frames.extend_from_slice(&giant);
        offset += giant.len() as u64;
    }
    parts.insert_data(first_block, &frames);
    parts.replace_last_extent(&zstd::bulk::compress(&[0], 3).expect("zstd compresses"));
    parts.set_u64(array.shape, 4 * GIB + 1);
    parts.set_u64(array.block_size, GIB);
    parts.set_u32(array.extent_count, 5);
    parts.metadata.splice(array.extents[0]..array.extents[0], records);
    Case {
        name: "n_R57_declared_size_over_4gib.amber".into(),
        description: "A compressed array declaring 4 GiB + 1 bytes, above max_decoded_bytes; its frames really inflate that far".into(),
        section: "8.4",
        rule: Some("R57"),
        expect: Expect::Reject("LimitExceeded"),
        derived_from: Some(base.path()),
        corruption: Some("shape set to [2^32 + 1], block_size to 2^30; four 1 GiB run-length zstd frames (32 KiB each) inserted before the block, which becomes a frame of one zero byte; 5 extents".into()),
        bytes: parts.assemble(),
        zero_run: None,
    }
}

/// A file whose metadata section is 256 MiB + 1 bytes, one over max_metadata_bytes: one string
/// of zeros and a none node. Stored without the string's zeros (see [`ZeroRun`]).
fn metadata_over_limit() -> Case {
    const LIMIT: u64 = 256 << 20;
    let metadata_length = LIMIT + 1;
    let string_length = metadata_length - 20 - 4 - 1;
    let mut head = Vec::new();
    for value in [1u32, 0, 0, 1, 0] {
        head.extend_from_slice(&value.to_le_bytes()); // 1 string, 0 dtypes, 0 arrays, 1 node, root 0
    }
    head.extend_from_slice(&(string_length as u32).to_le_bytes());
    let tail = [0u8]; // node 0: none
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&head);
    let zeros = vec![0u8; 1 << 20];
    let mut left = string_length;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        hasher.update(&zeros[..n]);
        left -= n as u64;
    }
    hasher.update(&tail);
    let metadata_crc = hasher.finalize();

    let mut parts = Parts::split(&super::valid::minimal_file());
    parts.metadata = [head.as_slice(), &tail].concat();
    parts.metadata_length = Some(metadata_length);
    let mut stored = parts.assemble();
    // The trailer's metadata CRC is that of the full section, zeros included.
    let trailer = stored.len() - TRAILER_LEN;
    stored[trailer + 16..trailer + 20].copy_from_slice(&metadata_crc.to_le_bytes());
    reseal_trailer(&mut stored);
    Case {
        name: "n_R12_metadata_over_limit.amber".into(),
        description: "A metadata section of 256 MiB + 1 bytes, above max_metadata_bytes (R12 follows R10, so the file really is that large)".into(),
        section: "11.2",
        rule: Some("R12"),
        expect: Expect::Reject("LimitExceeded"),
        derived_from: None,
        corruption: Some(format!("built directly: metadata of one string of {string_length} zero bytes and one none node; stored without those zeros (zero_run)")),
        bytes: stored,
        zero_run: Some(ZeroRun {
            offset: (HEADER_LEN + 24) as u64,
            zeros: string_length,
        }),
    }
}

/// Spec 1.0 erratum 1 (issue 14): the five record-field rows of R34, and the frame conditions
/// of spec 8.2 that a reader checks itself.
fn errata(d: &mut Deriver<'_>) {
    const Z: &str = "dtype_record_zero_dim_fields"; // dtype 2: x, then fields 1 to 3 of size 0
    let rows: [(&'static str, &'static str, &str, usize, &[u64]); 4] = [
        ("record_field_int32_2p63_by_0", "Issue 14, row 1: an int32 record field of shape [2^63, 0]; 4 x 2^63 overflows u64, so R34 fails although the field's size would be 0", "dtype 2 field 1 (int32) shape set from [2^61, 0] to [2^63, 0]", 1, &[1 << 63, 0]),
        ("record_field_int32_2p62_by_0", "Issue 14, row 2: an int32 record field of shape [2^62, 0]; 4 x 2^62 = 2^64 overflows u64", "dtype 2 field 1 (int32) shape set from [2^61, 0] to [2^62, 0]", 1, &[1 << 62, 0]),
        ("record_field_int32_0_by_2p63", "Issue 14, row 3: an int32 record field of shape [0, 2^63]; the zero first changes nothing (the 1.0 reference accepted this order)", "dtype 2 field 1 (int32) shape set from [2^61, 0] to [0, 2^63]", 1, &[0, 1 << 63]),
        ("record_field_uint8_2p62_by_8_by_0", "Issue 14, row 5: a uint8 record field of shape [2^62, 8, 0]; 2^62 x 8 overflows u64", "dtype 2 field 3 (uint8) shape set from [2^61, 4, 0] to [2^62, 8, 0]", 3, &[1 << 62, 8, 0]),
    ];
    for (name, description, corruption, field, shape) in rows {
        d.parts(
            Z,
            spec(name, "R34", "6.4", "InvalidDtype", description),
            corruption,
            |p| {
                let at = record_field(p, 2, field) + 13;
                for (i, &dim) in shape.iter().enumerate() {
                    p.set_u64(at + 8 * i, dim);
                }
            },
        );
    }

    const W: &str = "zstd_frame_walk_without_content_size"; // uint8 [2048], one block
    let content = frame_walk_content();
    let one_block_frame = |window_descriptor: u8, block: &[u8]| {
        [&[0x28, 0xB5, 0x2F, 0xFD, 0x00, window_descriptor][..], block].concat()
    };
    let raw_2048 = [&(1u32 | (2048 << 3)).to_le_bytes()[..3], &content[..]].concat();
    let (compressed_2048, _) = libzstd_block(&content, false);
    assert!(
        compressed_2048.len() < 1024,
        "the compressed block itself fits the window"
    );
    let walk = frame_walk_frame(0x05, 0);
    let frames: Vec<(Spec, &str, Vec<u8>)> = vec![
        (spec("raw_block_larger_than_window", "R59", "8.2", "CorruptBlock", "Issue 14: a frame without a content size, a 1 KiB window and one raw block of 2,048 bytes, above Block_Maximum_Size (libzstd's one-shot decoder accepts it)"), "block replaced by a hand-built frame: no content size, Window_Descriptor 0 (1 KiB), one raw block of the same 2,048 bytes", one_block_frame(0x00, &raw_2048)),
        (spec("compressed_block_larger_than_window", "R59", "8.2", "CorruptBlock", "A frame with a 1 KiB window whose one compressed block (under 1 KiB stored) regenerates 2,048 bytes, above Block_Maximum_Size"), "block replaced by a hand-built frame: no content size, Window_Descriptor 0 (1 KiB), then libzstd's compressed block of the same 2,048 bytes", one_block_frame(0x00, &compressed_2048)),
        (spec("block_type_reserved", "R59", "8.2", "CorruptBlock", "A frame whose second block has the reserved Block_Type 3"), "the raw block's Block_Type changed from 0 to 3", frame_walk_frame(0x05, 3)),
        (spec("frame_header_reserved_bit", "R59", "8.2", "CorruptBlock", "A frame whose Frame_Header_Descriptor has the reserved bit (bit 3) set"), "Frame_Header_Descriptor changed from 0x05 to 0x0D", frame_walk_frame(0x0D, 0)),
        (spec("frame_without_last_block", "R59", "8.2", "CorruptBlock", "A frame that ends without a block marked last"), "the content checksum removed (descriptor 0x01) and the last block's Last_Block bit cleared", {
            let mut frame = frame_walk_frame(0x01, 0);
            frame.truncate(frame.len() - 4);
            let last_header = frame.len() - compressed_block_len(&content);
            frame[last_header] &= !1;
            frame
        }),
        (spec("frame_cut_inside_checksum", "R59", "8.2", "CorruptBlock", "A frame that ends inside its content checksum"), "the frame's last 2 bytes (half its checksum) removed", walk[..walk.len() - 2].to_vec()),
        (spec("bytes_after_frame_without_content_size", "R59", "8.2", "CorruptBlock", "A zero byte after a frame that declares no content size, found by the walk of spec 8.2"), "a zero byte appended to the frame", [walk.clone(), vec![0]].concat()),
    ];
    for (spec, corruption, frame) in frames {
        let doc = format!("{corruption}; extent stored_length and CRC updated");
        d.parts(W, spec, &doc, |p| p.replace_last_extent(&frame));
    }

    const M: &str = "zstd_rle_block_of_128kib"; // uint8 [200 KiB] of 0x5A, one block
    let (byte, len) = BLOCK_MAXIMUM_CONTENT;
    let raw_200k = [
        &(1u32 | ((len as u32) << 3)).to_le_bytes()[..3],
        &vec![byte; len][..],
    ]
    .concat();
    let rle_200k = [&(3u32 | ((len as u32) << 3)).to_le_bytes()[..3], &[byte][..]].concat();
    let frames: Vec<(Spec, &str, Vec<u8>)> = vec![
        (spec("raw_block_over_128kib", "R59", "8.2", "CorruptBlock", "Issue 14: a frame with a 256 KiB window holding one raw block of 200 KiB, above RFC 8878's 128 KiB (libzstd's one-shot decoder accepts it)"), "block replaced by a hand-built frame: no content size, Window_Descriptor 0x40 (256 KiB), one raw block of the same 200 KiB", one_block_frame(0x40, &raw_200k)),
        (spec("rle_block_over_128kib", "R59", "8.2", "CorruptBlock", "A frame with a 256 KiB window holding one RLE block that regenerates 200 KiB, above 128 KiB"), "block replaced by a hand-built frame: no content size, Window_Descriptor 0x40 (256 KiB), one RLE block of 200 KiB", one_block_frame(0x40, &rle_200k)),
    ];
    for (spec, corruption, frame) in frames {
        let doc = format!("{corruption}; extent stored_length and CRC updated");
        d.parts(M, spec, &doc, |p| p.replace_last_extent(&frame));
    }

    d.parts(
        "codec_zstd_many_blocks_short_final",
        spec("first_bad_block_decides", "R59", "9.5", "CorruptBlock", "Two bad blocks of one array: block 3 breaks spec 8.2 and block 12 its CRC; rules apply extent by extent, so block 3 decides, however a reader schedules its decoding"),
        "block 3's Frame_Header_Descriptor reserved bit set (its CRC recomputed); last byte of block 12 XOR 1 (CRC left as it was)",
        |p| {
            let extents = p.map().arrays[0].extents.clone();
            let block_3 = p.get_u64(extents[3]) as usize - HEADER_LEN;
            p.data[block_3 + 4] |= 0x08;
            p.fix_extent_crcs();
            let end_12 = (p.get_u64(extents[12]) + p.get_u64(extents[12] + 8)) as usize - HEADER_LEN;
            p.data[end_12 - 1] ^= 1;
        },
    );
}

/// Stored bytes of the compressed block (with its header) of the frame-walk case.
fn compressed_block_len(content: &[u8]) -> usize {
    libzstd_block(&content[1024..], false).0.len()
}
