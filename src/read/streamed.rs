//! [`Reader::open`]: plain reads with the checksums computed on a second thread while the data
//! streams in. The header, trailer and metadata are read first, so the extents are known before
//! the data arrives, and each extent's CRC is finished as soon as its last byte is in memory.
//! Checking every CRC then costs almost no wall time beyond the read itself.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc;

use super::{layout, metadata, AlignedBytes, Padding, ReadOptions, Reader, Verify};
use crate::error::{Error, Result};
use crate::format::trailer::{METADATA_LENGTH_OFFSET, METADATA_OFFSET_OFFSET};
use crate::format::{checksum_matches, StoredExtent, HEADER_LEN, TRAILER_LEN};

/// Bytes handed to the hashing thread at a time.
const CHUNK: usize = 8 << 20;

pub(super) fn open_file(path: &Path, options: ReadOptions) -> Result<Reader<AlignedBytes>> {
    let mut file = File::open(path).map_err(|e| Error::io(None, e))?;
    let len = file.metadata().map_err(|e| Error::io(None, e))?.len();
    let len = usize::try_from(len).map_err(|_| Error::limit(None, "file larger than the address space"))?;
    let mut bytes = AlignedBytes::zeroed(len);
    let open_options = ReadOptions {
        verify: Verify::Explicit,
        ..options.clone()
    };

    let Some(metadata_offset) = read_outline(&mut file, bytes.as_mut_bytes())? else {
        // Too small or inconsistent to stream: read it all and let validation name the problem.
        read_range(&mut file, bytes.as_mut_bytes(), 0)?;
        return Reader::from_storage(
            bytes,
            ReadOptions {
                verify: Verify::OnOpen,
                ..options
            },
        );
    };
    let unwalked = metadata::parse(&bytes, &open_options.limits)?;
    let data = &mut bytes.as_mut_bytes()[HEADER_LEN as usize..metadata_offset];
    let checks = stream_and_check(&mut file, data, unwalked.extents())?;
    let metadata = layout::check_layout(unwalked, &bytes)?;
    let mut reader = Reader::with_metadata(bytes, metadata, open_options, Padding::AtOpen)?;
    reader.apply_checks(checks)?;
    Ok(reader)
}

/// Reads the header, trailer and metadata section into place; returns the metadata offset, or
/// `None` if the trailer does not describe a plausible metadata section.
fn read_outline(file: &mut File, buf: &mut [u8]) -> Result<Option<usize>> {
    let len = buf.len();
    let fixed = (HEADER_LEN + TRAILER_LEN) as usize;
    if len < fixed {
        return Ok(None);
    }
    read_range(file, &mut buf[..HEADER_LEN as usize], 0)?;
    let trailer_start = len - TRAILER_LEN as usize;
    read_range(file, &mut buf[trailer_start..], trailer_start as u64)?;
    let field = |at: usize| buf[at..at + 8].try_into().map(u64::from_le_bytes).unwrap_or(0);
    let (offset, length) = (
        field(trailer_start + METADATA_OFFSET_OFFSET as usize),
        field(trailer_start + METADATA_LENGTH_OFFSET as usize),
    );
    let plausible = offset >= HEADER_LEN && offset.checked_add(length) == Some(trailer_start as u64);
    if !plausible {
        return Ok(None);
    }
    let offset = offset as usize;
    read_range(file, &mut buf[offset..trailer_start], offset as u64)?;
    Ok(Some(offset))
}

fn read_range(file: &mut File, buf: &mut [u8], at: u64) -> Result<()> {
    file.seek(SeekFrom::Start(at)).map_err(|e| Error::io(at, e))?;
    file.read_exact(buf).map_err(|e| Error::io(at, e))
}

/// Reads the data region (which starts right after the header) in chunks on this thread while
/// another hashes the extents. Returns, per extent, whether its CRC matched, or `None` where the
/// hashing thread could not follow (extents out of order: the layout walk rejects those).
fn stream_and_check(file: &mut File, data: &mut [u8], extents: &[StoredExtent]) -> Result<Vec<Option<bool>>> {
    file.seek(SeekFrom::Start(HEADER_LEN))
        .map_err(|e| Error::io(HEADER_LEN, e))?;
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<&[u8]>(4);
        let hasher = scope.spawn(move || hash_extents(receiver, extents));
        let mut rest = data;
        let mut position = HEADER_LEN;
        let mut outcome = Ok(());
        while !rest.is_empty() {
            let n = rest.len().min(CHUNK);
            let (chunk, tail) = std::mem::take(&mut rest).split_at_mut(n);
            if let Err(e) = file.read_exact(chunk) {
                outcome = Err(Error::io(position, e));
                break;
            }
            if sender.send(chunk).is_err() {
                break;
            }
            rest = tail;
            position += n as u64;
        }
        drop(sender);
        let checks = hasher.join().unwrap_or_else(|_| vec![None; extents.len()]);
        outcome.map(|()| checks)
    })
}

fn hash_extents(chunks: mpsc::Receiver<&[u8]>, extents: &[StoredExtent]) -> Vec<Option<bool>> {
    let mut results = vec![None; extents.len()];
    let mut current = 0;
    let mut hasher = crc32fast::Hasher::new();
    // File offset of the next byte of the current extent to hash.
    let mut next = extents.first().map_or(0, |e| e.offset);
    let mut chunk_start = HEADER_LEN;
    for chunk in chunks {
        let chunk_end = chunk_start + chunk.len() as u64;
        while let Some(extent) = extents.get(current) {
            let end = extent.offset.saturating_add(extent.stored_length);
            if next < chunk_start {
                // Its bytes went by in an earlier chunk: leave it to be checked afterwards.
                current += 1;
                hasher = crc32fast::Hasher::new();
                next = extents.get(current).map_or(0, |e| e.offset);
                continue;
            }
            if next >= chunk_end {
                break;
            }
            let upto = end.min(chunk_end);
            hasher.update(&chunk[(next - chunk_start) as usize..(upto - chunk_start) as usize]);
            next = upto;
            if upto < end {
                break;
            }
            let crc = std::mem::replace(&mut hasher, crc32fast::Hasher::new()).finalize();
            results[current] = Some(checksum_matches(extent.crc32, crc));
            current += 1;
            next = extents.get(current).map_or(0, |e| e.offset);
        }
        chunk_start = chunk_end;
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{ArraySpec, Compression, DType, Graph, Node, WriteOptions, Writer};

    /// A file in `dir` with a raw array spanning three chunks, and a compressed one after it:
    /// its path, extents and the raw array's bytes.
    fn sample_in(dir: &tempfile::TempDir) -> (std::path::PathBuf, Vec<StoredExtent>, Vec<u8>) {
        let path = dir.path().join("sample.amber");
        let big: Vec<u8> = (0..20 << 20).map(|i: u32| (i % 251) as u8).collect();
        let mut writer = Writer::create(&path, WriteOptions::default()).unwrap();
        let a = writer
            .write_array(&ArraySpec::c(DType::UInt8, &[big.len() as u64]), &big)
            .unwrap();
        let b = writer
            .write_array_with(
                &ArraySpec::c(DType::UInt8, &[4096]),
                &big[..4096],
                Compression::Zstd {
                    level: 1,
                    shuffle: false,
                },
            )
            .unwrap();
        let mut graph = Graph::new();
        let nodes = [graph.add(Node::Array(a)), graph.add(Node::Array(b))];
        let root = graph.add(Node::List(&nodes));
        graph.set_root(root);
        writer.commit(&graph).unwrap();
        let reader = Reader::open(&path, ReadOptions::default()).unwrap();
        (path, reader.metadata.extents.clone(), big)
    }

    #[test]
    #[cfg_attr(miri, ignore = "compresses with zstd (C code) and streams 10 MiB")]
    fn open_checks_every_extent_while_streaming() {
        let dir = tempfile::tempdir().unwrap();
        let (path, extents, big) = sample_in(&dir);
        let reader = Reader::open(&path, ReadOptions::default()).unwrap();
        assert_eq!(&*reader.read_bytes(crate::ArrayId(0)).unwrap(), &big[..]);
        assert!((0..reader.array_count()).all(|i| reader.verified.is_set(i)));

        // One flipped byte in the middle chunk of the raw extent, then in the compressed block.
        for target in [extents[0].offset + (10 << 20), extents[1].offset + 1] {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[target as usize] ^= 0x40;
            let corrupt = dir.path().join("corrupt.amber");
            std::fs::write(&corrupt, &bytes).unwrap();
            let err = Reader::open(&corrupt, ReadOptions::default()).unwrap_err();
            assert_eq!(err.class(), "ChecksumMismatch");
            let extent = extents
                .iter()
                .find(|e| e.offset <= target && target < e.offset + e.stored_length);
            assert_eq!(err.offset(), extent.map(|e| e.offset));
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "writes and reads 20 MiB: hours under Miri")]
    fn from_reader_reads_a_file_larger_than_its_first_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _, big) = sample_in(&dir);
        let file = std::fs::File::open(&path).unwrap();
        let reader = Reader::from_reader(file, ReadOptions::default()).unwrap();
        assert_eq!(reader.bytes(), &std::fs::read(&path).unwrap()[..]);
        assert_eq!(&*reader.read_bytes(crate::ArrayId(0)).unwrap(), &big[..]);
    }

    /// Hands out at most 1000 bytes per call, with an `Interrupted` error now and then.
    struct Trickle<'a> {
        rest: &'a [u8],
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(7) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.rest.len()).min(1000);
            buf[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            Ok(n)
        }
    }

    #[test]
    fn read_all_grows_past_its_first_buffer_and_retries_interrupted_reads() {
        // 150 KB: past the first 64 KiB buffer and its first doubling, small enough for Miri.
        let input: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let mut source = Trickle {
            rest: &input,
            calls: 0,
        };
        let bytes = AlignedBytes::read_all(&mut source).unwrap();
        assert_eq!(bytes.as_ref(), &input[..]);
        assert_eq!(bytes.as_ref().as_ptr() as usize % 8, 0);
    }

    #[test]
    fn extents_out_of_order_are_left_for_the_layout_walk() {
        let data = [7u8; 64];
        let crc = crate::format::crc32(&data[..16]);
        let extents = [
            StoredExtent {
                offset: HEADER_LEN + 32,
                stored_length: 16,
                crc32: crc,
            },
            StoredExtent {
                offset: HEADER_LEN,
                stored_length: 16,
                crc32: crc,
            },
        ];
        // Two chunks: the second extent's bytes pass by in the first, before the first extent.
        let (sender, receiver) = mpsc::sync_channel(2);
        sender.send(&data[..32]).unwrap();
        sender.send(&data[32..]).unwrap();
        drop(sender);
        assert_eq!(hash_extents(receiver, &extents), vec![Some(true), None]);
    }
}
