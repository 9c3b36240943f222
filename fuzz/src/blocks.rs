//! Target 4: compressed blocks. A valid one-block compressed array is written, then its block
//! is replaced by arbitrary bytes (raw, or a real zstd frame of arbitrary content) and every
//! CRC and offset is patched, so the bytes reach the decoder even without `cfg(fuzzing)`. The
//! declared size and the decode budget are arbitrary too. The reader must never hand out more
//! or fewer bytes than declared, must respect the budget, and must agree with zstd itself.

use amber_test_support::surgery::{extent_record, extent_record_at, seal_metadata};
use amberfile::filter::unshuffle;
use amberfile::format::crc32;
use amberfile::{ArraySpec, Compression, DType, Graph, Limits, Node, ReadOptions, Reader, Verify};
use amberfile::{WriteOptions, Writer};
use arbitrary::{Arbitrary, Unstructured};

#[derive(Debug, Arbitrary)]
struct BlockModel {
    /// Selects the element type: 1, 2, 4 or 8 bytes.
    itemsize_shift: u8,
    elements: u16,
    shuffle: bool,
    /// How the block's bytes are made from `content`.
    kind: FrameKind,
    content: Vec<u8>,
    /// The reader's `max_decoded_bytes`.
    budget: u16,
}

#[derive(Debug, Arbitrary)]
enum FrameKind {
    /// `content` itself, as the block.
    Raw,
    /// A zstd frame of `content`: usually not the declared size.
    Compressed,
    /// A zstd frame of `content` resized to the declared size: must decode.
    CompressedExact,
}

pub fn compressed_block(data: &[u8]) {
    let Ok(model) = BlockModel::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (dtype, itemsize) = match model.itemsize_shift % 4 {
        0 => (DType::UInt8, 1),
        1 => (DType::UInt16, 2),
        2 => (DType::UInt32, 4),
        _ => (DType::UInt64, 8),
    };
    let elements = u64::from(model.elements.max(1));
    let nbytes = elements * itemsize;
    let frame = match model.kind {
        FrameKind::Raw => model.content.clone(),
        FrameKind::Compressed => zstd::bulk::compress(&model.content, 1).expect("zstd compresses"),
        FrameKind::CompressedExact => {
            let mut content = model.content.clone();
            content.resize(nbytes as usize, 0xa5);
            zstd::bulk::compress(&content, 1).expect("zstd compresses")
        }
    };
    let file = file_with_block(&dtype, elements, model.shuffle, &frame);
    let options = ReadOptions {
        limits: Limits {
            max_decoded_bytes: u64::from(model.budget),
            ..Limits::default()
        },
        verify: Verify::OnOpen,
    };
    let reader = match Reader::from_bytes(&file, options) {
        Ok(reader) => reader,
        // The spec forbids empty blocks; any other frame keeps the file structurally valid.
        Err(error) => {
            assert!(frame.is_empty() && error.class() == "LengthMismatch", "{error}");
            return;
        }
    };
    let id = reader.arrays().next().expect("one array").id();
    let result = reader.read_bytes(id);
    if nbytes > u64::from(model.budget) {
        let error = result.expect_err("decoding past the budget must fail");
        assert_eq!(error.class(), "LimitExceeded", "{error}");
        return;
    }
    match result {
        Ok(decoded) => {
            assert_eq!(
                decoded.len() as u64,
                nbytes,
                "decoded length differs from the declared size"
            );
            let reference = zstd::bulk::decompress(&frame, nbytes as usize)
                .expect("zstd itself decodes what the reader decoded");
            let expected = if model.shuffle {
                let mut out = vec![0; reference.len()];
                unshuffle(&reference, &mut out, itemsize as usize);
                out
            } else {
                reference
            };
            assert!(*decoded == expected[..], "reader and zstd disagree");
        }
        Err(error) => {
            assert_eq!(error.class(), "CorruptBlock", "{error}");
            assert!(
                !matches!(model.kind, FrameKind::CompressedExact),
                "a frame of exactly the declared size was rejected: {error}"
            );
        }
    }
    let streamed = reader.for_each_chunk(id, |chunk| {
        assert_eq!(chunk.len() as u64, nbytes, "one block is the whole array");
        Ok(())
    });
    assert_eq!(
        streamed.is_ok(),
        reader.read_bytes(id).is_ok(),
        "for_each_chunk and read_bytes disagree"
    );
}

/// A valid file holding one compressed array of one block whose stored bytes are `frame`.
fn file_with_block(dtype: &DType, elements: u64, shuffle: bool, frame: &[u8]) -> Vec<u8> {
    let spec = ArraySpec::c(dtype.clone(), &[elements]);
    let nbytes = spec.nbytes().expect("small array");
    let options = WriteOptions {
        block_size: nbytes,
        ..WriteOptions::default()
    };
    let mut writer = Writer::new(Vec::new(), options).expect("valid options");
    let compression = Compression::Zstd { level: 1, shuffle };
    let array = writer
        .write_array_with(&spec, &vec![0; nbytes as usize], compression)
        .expect("valid array");
    let mut graph = Graph::new();
    let root = graph.add(Node::Array(array));
    graph.set_root(root);
    let original = writer.finish(&graph).expect("valid graph");
    splice_block(&original, frame)
}

/// Replaces the file's only block with `frame`, moving the metadata and patching the extent
/// record, the metadata CRC and the trailer.
fn splice_block(original: &[u8], frame: &[u8]) -> Vec<u8> {
    let reader = Reader::from_bytes(original, ReadOptions::default()).expect("written file opens");
    let extent = reader.arrays().next().expect("one array").extents()[0];
    let (start, end) = (
        extent.offset as usize,
        (extent.offset + extent.stored_length) as usize,
    );
    let metadata_start = reader.trailer().metadata_offset as usize;
    let metadata_end = metadata_start + reader.trailer().metadata_length as usize;
    assert_eq!(
        end, metadata_start,
        "the block is the last data before the metadata"
    );

    let mut metadata = original[metadata_start..metadata_end].to_vec();
    let at = extent_record_at(&metadata, &extent);
    let new_record = extent_record(extent.offset, frame.len() as u64, crc32(frame));
    metadata[at..at + new_record.len()].copy_from_slice(&new_record);

    let mut header_and_data = original[..start].to_vec();
    header_and_data.extend_from_slice(frame);
    seal_metadata(&header_and_data, &metadata)
}
