//! The remote reader and writer (feature `remote`, spec 9.7) against real `object_store`
//! stores in this process (InMemory, LocalFileSystem) behind a request-counting wrapper, and
//! against a lying HTTP server on 127.0.0.1: request counts of the fetch plan, round trips,
//! corruptions classed as the local partial reader classes them, non-zero padding (spec 9.6),
//! and a typed error in bounded time for each lie.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amber_test_support::fixtures::{f32_bytes, file_with, graph_of, ZSTD};
use amber_test_support::remote::{CountingStore, Lie, LyingServer};
use amber_test_support::SeededRng;
use amberfile::remote::object_store::memory::InMemory;
use amberfile::remote::object_store::path::Path;
use amberfile::remote::object_store::{GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use amberfile::remote::{self, AsyncReader, RemoteConfig, RemoteReader, RemoteUpload};
use amberfile::{
    ArrayId, ArraySpec, Compression, DType, Error, ErrorKind, ReadOptions, Reader, WriteOptions, Writer,
};

/// A store holding `bytes` at `model.amber`, behind a counter.
fn store_with(bytes: &[u8]) -> (Arc<CountingStore>, Path) {
    let inner = Arc::new(InMemory::new());
    let path = Path::from("model.amber");
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(inner.put(&path, PutPayload::from(bytes.to_vec())))
        .unwrap();
    (CountingStore::new(inner), path)
}

fn open(store: &Arc<CountingStore>, path: &Path) -> amberfile::Result<RemoteReader> {
    RemoteReader::open(
        store.clone(),
        path.clone(),
        RemoteConfig::default(),
        ReadOptions::default(),
    )
}

/// `count` raw f32 arrays of `len` elements each, values seeded by their index.
fn raw_arrays(count: usize, len: usize) -> Vec<(ArraySpec, Vec<u8>, Compression)> {
    (0..count)
        .map(|a| {
            let values = (0..len).map(|i| (a * 1000 + i) as f32);
            (
                ArraySpec::c(DType::Float32, &[len as u64]),
                f32_bytes(values),
                Compression::None,
            )
        })
        .collect()
}

/// 256 KiB of data in 4 raw arrays, metadata well under 64 KiB.
fn small_metadata_file() -> Vec<u8> {
    file_with(WriteOptions::default(), &raw_arrays(4, 16 << 10))
}

/// Metadata over 64 KiB: 3000 small arrays (each with its table entry and node) after a 2 MiB
/// one, so that the header and the metadata lie too far apart to share a request.
fn large_metadata_file() -> Vec<u8> {
    let mut arrays = raw_arrays(1, 512 << 10);
    arrays.extend(raw_arrays(3000, 3));
    let file = file_with(WriteOptions::default(), &arrays);
    let metadata = amber_test_support::surgery::metadata(&file).len();
    assert!(metadata > 64 << 10, "metadata is {metadata} bytes");
    file
}

fn ids(reader: &Reader<impl amberfile::ByteSource>) -> Vec<ArrayId> {
    reader.arrays().map(|a| a.id()).collect()
}

fn local_bytes(bytes: &[u8], id: ArrayId) -> Vec<u8> {
    let reader = Reader::from_bytes(bytes, ReadOptions::default()).unwrap();
    reader.read_bytes(id).unwrap().into_owned()
}

#[test]
fn open_takes_two_requests_when_the_metadata_fits_the_suffix_read() {
    let file = small_metadata_file();
    assert!(file.len() > 64 << 10);
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    assert_eq!((store.round_trips(), store.gets()), (1, 2));
    assert!(store.ranges().contains(&Some(GetRange::Suffix(64 << 10))));
    assert!(store.ranges().contains(&Some(GetRange::Bounded(0..64))));
    assert_eq!(reader.array_count(), 4);
    assert_eq!(reader.size(), file.len() as u64);
}

#[test]
fn a_file_under_64_kib_opens_in_one_round_trip() {
    let file = file_with(WriteOptions::default(), &raw_arrays(2, 100));
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    // The header request goes with the suffix read before the size is known.
    assert_eq!((store.round_trips(), store.gets()), (1, 2));
    // Its arrays came with the suffix read too.
    let id = ids(&reader)[1];
    assert_eq!(reader.read_bytes(id).unwrap(), local_bytes(&file, id));
    assert_eq!(store.gets(), 2);
}

#[test]
fn large_metadata_takes_one_more_request_and_each_array_one() {
    let file = large_metadata_file();
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    assert_eq!(
        (store.round_trips(), store.gets()),
        (2, 3),
        "{:?}",
        store.ranges()
    );
    assert_eq!(reader.array_count(), 3001);
    store.reset();
    let id = ids(&reader)[10];
    assert_eq!(reader.read_bytes(id).unwrap(), local_bytes(&file, id));
    assert_eq!(store.gets(), 1);
}

#[test]
fn metadata_beyond_the_suffix_read_takes_one_more_round_trip() {
    // 300 KiB of metadata in a file not much larger: the header came with the suffix read.
    let file = file_with(WriteOptions::default(), &raw_arrays(3000, 3));
    let (store, path) = store_with(&file);
    open(&store, &path).unwrap();
    assert_eq!(
        (store.round_trips(), store.gets()),
        (2, 3),
        "{:?}",
        store.ranges()
    );
}

#[test]
fn metadata_only_reads_no_data_byte() {
    let file = small_metadata_file();
    let (store, path) = store_with(&file);
    let metadata = rt().block_on(AsyncReader::read_metadata(
        store.clone(),
        path,
        RemoteConfig::default(),
        &amberfile::Limits::default(),
    ));
    let metadata = metadata.unwrap();
    assert_eq!(metadata.array_count(), 4);
    let data_start = metadata.extents()[0].offset;
    let data_end = metadata.trailer().metadata_offset;
    for range in store.ranges() {
        if let Some(GetRange::Bounded(r)) = range {
            assert!(
                r.end <= data_start.max(64) || r.start >= data_end.min(file.len() as u64 - (64 << 10)),
                "{r:?}"
            );
        }
    }
    assert_eq!(store.gets(), 2);
}

#[test]
fn a_store_without_suffix_reads_takes_head_then_a_bounded_read() {
    let file = small_metadata_file();
    let (store, path) = store_with(&file);
    store.refuse_suffix_reads();
    let config = RemoteConfig {
        suffix_reads: false,
        ..RemoteConfig::default()
    };
    let reader = RemoteReader::open(store.clone(), path.clone(), config, ReadOptions::default()).unwrap();
    assert_eq!(store.gets(), 3, "{:?}", store.ranges());
    assert!(store
        .ranges()
        .iter()
        .all(|r| !matches!(r, Some(GetRange::Suffix(_)))));
    let id = ids(&reader)[2];
    assert_eq!(reader.read_bytes(id).unwrap(), local_bytes(&file, id));
    assert_eq!(store.gets(), 4);
    // Asking such a store for a suffix read is a typed error, not a panic.
    let err = open(&store, &path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
}

#[test]
fn one_array_is_one_request_padding_and_extent_together() {
    let file = small_metadata_file();
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    for (n, id) in ids(&reader).into_iter().enumerate() {
        store.reset();
        let mut out = vec![0u8; reader.array_info(id).unwrap().nbytes() as usize];
        reader.read_into(id, &mut out).unwrap();
        assert_eq!(out, local_bytes(&file, id));
        // The last array lies in the suffix read already.
        assert!(store.gets() <= 1, "array {n}: {:?}", store.ranges());
    }
}

#[test]
fn a_slice_of_a_compressed_array_fetches_only_its_blocks() {
    let values: Vec<f32> = (0..(1 << 18)).map(|i| (i % 977) as f32 * 0.5).collect();
    let options = WriteOptions {
        block_size: 16 << 10,
        ..WriteOptions::default()
    };
    let spec = ArraySpec::c(DType::Float32, &[values.len() as u64]);
    let mut arrays = vec![(spec, f32_bytes(values.iter().copied()), ZSTD)];
    arrays.extend(raw_arrays(1, 20_000));
    let file = file_with(options, &arrays);
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    let id = ids(&reader)[0];
    let info = reader.array_info(id).unwrap();
    assert_eq!(info.extents().len(), 64);
    store.reset();
    // Bytes 100_000..140_000 lie in blocks 6..=8.
    let part = reader.read_byte_range(id, 100_000..140_000).unwrap();
    assert_eq!(part, &f32_bytes(values.iter().copied())[100_000..140_000]);
    assert_eq!(store.gets(), 1);
    let Some(GetRange::Bounded(fetched)) = store.ranges()[0].clone() else {
        panic!("{:?}", store.ranges())
    };
    let blocks = &info.extents()[6..9];
    assert_eq!(fetched.start, blocks[0].offset);
    assert_eq!(fetched.end, blocks[2].offset + blocks[2].stored_length);
    // The whole array: one request too.
    store.reset();
    assert_eq!(reader.read_bytes(id).unwrap(), f32_bytes(values.iter().copied()));
    assert_eq!(store.gets(), 1);
}

#[test]
fn streaming_a_compressed_array_fetches_a_run_of_blocks_per_round_trip() {
    // 144 MiB of zeros in 16 MiB blocks: runs of 4 blocks (64 MiB decoded) make 3 round trips.
    // Raw arrays of 2 MiB around it keep its blocks out of the open's requests.
    let nbytes = 144u64 << 20;
    let options = WriteOptions {
        block_size: 16 << 20,
        ..WriteOptions::default()
    };
    let spec = ArraySpec::c(DType::UInt8, &[nbytes]);
    let mut arrays = raw_arrays(1, 1 << 19);
    arrays.push((spec, vec![0u8; nbytes as usize], ZSTD));
    arrays.extend(raw_arrays(1, 1 << 19));
    let file = file_with(options, &arrays);
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    let [raw, packed, _] = ids(&reader)[..] else {
        panic!()
    };
    assert_eq!(reader.array_info(packed).unwrap().extents().len(), 9);
    store.reset();
    let (mut pieces, mut total, mut nonzero) = (Vec::new(), 0u64, false);
    reader
        .for_each_chunk(packed, |piece| {
            pieces.push(piece.len() as u64);
            total += piece.len() as u64;
            nonzero |= piece.iter().any(|&b| b != 0);
            Ok(())
        })
        .unwrap();
    assert_eq!((total, nonzero), (nbytes, false));
    assert_eq!(pieces, [64 << 20, 64 << 20, 16 << 20]);
    assert_eq!(store.round_trips(), 3, "{:?}", store.ranges());
    // A raw array: one piece, one request; a sink's error stops the stream.
    store.reset();
    let mut whole = Vec::new();
    reader
        .for_each_chunk(raw, |piece| {
            whole.extend_from_slice(piece);
            Ok(())
        })
        .unwrap();
    assert_eq!(whole, local_bytes(&file, raw));
    assert!(store.gets() <= 1);
    let stopped = reader.for_each_chunk(packed, |_| Err(Error::from(std::io::Error::other("full"))));
    assert_eq!(stopped.unwrap_err().kind(), ErrorKind::Io);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_async_reader_gives_what_the_blocking_one_gives() {
    let file = small_metadata_file();
    let (store, path) = store_with(&file);
    let got = rt().block_on(async {
        let reader = AsyncReader::open(
            store.clone(),
            path,
            RemoteConfig::default(),
            ReadOptions::default(),
        )
        .await
        .unwrap();
        let id = reader.reader().arrays().nth(1).unwrap().id();
        let mut out = vec![0u8; reader.reader().array_info(id).unwrap().nbytes() as usize];
        reader.read_into(id, &mut out).await.unwrap();
        reader.verify().await.unwrap();
        (id, out)
    });
    assert_eq!(got.1, local_bytes(&file, got.0));
    // Open 2, the array 1, the verify 1.
    assert_eq!(store.gets(), 4);
}

#[test]
fn verify_streams_the_object_in_one_request() {
    let values: Vec<f32> = (0..50_000).map(|i| i as f32).collect();
    let mut arrays = raw_arrays(3, 30_000);
    arrays.push((
        ArraySpec::c(DType::Float32, &[values.len() as u64]),
        f32_bytes(values),
        ZSTD,
    ));
    let file = file_with(
        WriteOptions {
            block_size: 8192,
            ..WriteOptions::default()
        },
        &arrays,
    );
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    store.reset();
    reader.verify().unwrap();
    assert_eq!(store.gets(), 1);
    assert_eq!(store.ranges(), vec![None]);
    assert!(ids(&reader).iter().all(|&id| reader.is_verified(id)));
}

/// The class of everything a reader does with a file: open, read every array, verify.
fn classes<R>(
    opened: amberfile::Result<R>,
    reader_of: impl Fn(&R) -> &dyn ArrayReads,
) -> Vec<Option<ErrorKind>> {
    let opened = match opened {
        Ok(opened) => opened,
        Err(e) => return vec![Some(e.kind())],
    };
    let reader = reader_of(&opened);
    let mut classes = vec![None];
    for id in reader.ids() {
        classes.push(reader.read(id).err().map(|e| e.kind()));
    }
    classes.push(reader.verify_all().err().map(|e| e.kind()));
    classes
}

/// What `classes` does with a reader, local or remote.
trait ArrayReads {
    fn ids(&self) -> Vec<ArrayId>;
    fn read(&self, id: ArrayId) -> amberfile::Result<Vec<u8>>;
    fn verify_all(&self) -> amberfile::Result<()>;
}

impl ArrayReads for RemoteReader {
    fn ids(&self) -> Vec<ArrayId> {
        ids(self)
    }
    fn read(&self, id: ArrayId) -> amberfile::Result<Vec<u8>> {
        self.read_bytes(id)
    }
    fn verify_all(&self) -> amberfile::Result<()> {
        self.verify()
    }
}

impl ArrayReads for Reader<&[u8]> {
    fn ids(&self) -> Vec<ArrayId> {
        ids(self)
    }
    fn read(&self, id: ArrayId) -> amberfile::Result<Vec<u8>> {
        self.read_bytes(id).map(|b| b.into_owned())
    }
    fn verify_all(&self) -> amberfile::Result<()> {
        self.verify()
    }
}

fn classes_remote(bytes: &[u8]) -> Vec<Option<ErrorKind>> {
    let (store, path) = store_with(bytes);
    classes(open(&store, &path), |r| r as &dyn ArrayReads)
}

fn classes_local(bytes: &[u8]) -> Vec<Option<ErrorKind>> {
    classes(Reader::from_source(bytes, ReadOptions::default()), |r| {
        r as &dyn ArrayReads
    })
}

fn corruption_sample() -> Vec<u8> {
    let values: Vec<f32> = (0..20_000).map(|i| (i % 311) as f32).collect();
    let mut arrays = raw_arrays(2, 9_000);
    arrays.insert(
        1,
        (
            ArraySpec::c(DType::Float32, &[values.len() as u64]),
            f32_bytes(values),
            ZSTD,
        ),
    );
    file_with(
        WriteOptions {
            block_size: 4096,
            ..WriteOptions::default()
        },
        &arrays,
    )
}

#[test]
fn every_corruption_gets_the_class_the_local_partial_reader_gives() {
    let file = corruption_sample();
    let metadata = amber_test_support::surgery::metadata_range(&file);
    let mut rng = SeededRng(15);
    let mut positions: Vec<usize> = vec![
        0,
        7,
        8,
        63,
        metadata.start,
        metadata.start + 1,
        file.len() - 1,
        file.len() - 20,
    ];
    positions.extend((0..60).map(|_| rng.below(file.len())));
    let mut failing = 0;
    for at in positions {
        let mut flipped = file.clone();
        flipped[at] ^= 0x10;
        let local = classes_local(&flipped);
        assert_eq!(classes_remote(&flipped), local, "byte {at} flipped");
        failing += usize::from(local.iter().any(Option::is_some));
    }
    assert!(failing > 50, "only {failing} flips were caught");
    for len in [
        0,
        10,
        64,
        100,
        1000,
        file.len() / 2,
        file.len() - 33,
        file.len() - 1,
    ] {
        let local = classes_local(&file[..len]);
        assert!(local[0].is_some());
        assert_eq!(classes_remote(&file[..len]), local, "truncated to {len}");
    }
}

#[test]
fn non_zero_padding_fails_the_array_it_precedes_and_verify_not_the_open() {
    // Two raw arrays of 100 bytes: 28 bytes of padding before the second.
    let arrays = vec![
        (
            ArraySpec::c(DType::UInt8, &[100]),
            vec![1u8; 100],
            Compression::None,
        ),
        (
            ArraySpec::c(DType::UInt8, &[100]),
            vec![2u8; 100],
            Compression::None,
        ),
    ];
    let mut file = file_with(WriteOptions::default(), &arrays);
    let second = Reader::from_source(file.as_slice(), ReadOptions::default())
        .unwrap()
        .metadata()
        .extents()[1]
        .offset;
    let padding_at = second as usize - 3;
    assert_eq!(file[padding_at], 0);
    file[padding_at] = 0xAA;
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    let ids = ids(&reader);
    assert_eq!(reader.read_bytes(ids[0]).unwrap(), vec![1u8; 100]);
    let err = reader.read_bytes(ids[1]).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (ErrorKind::NonZeroPadding, Some(padding_at as u64))
    );
    let err = reader.verify().unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (ErrorKind::NonZeroPadding, Some(padding_at as u64))
    );
    let whole = Reader::from_bytes(&file, ReadOptions::default()).unwrap_err();
    assert_eq!(
        (whole.kind(), whole.offset()),
        (ErrorKind::NonZeroPadding, Some(padding_at as u64))
    );
}

/// A model written with the streaming writer straight into `upload`.
fn write_model(upload: RemoteUpload, arrays: &[(ArraySpec, Vec<u8>, Compression)]) -> amberfile::Result<()> {
    let mut writer = Writer::new(upload, WriteOptions::default())?;
    let ids: Vec<ArrayId> = arrays
        .iter()
        .map(|(spec, bytes, compression)| writer.write_array_with(spec, bytes, *compression))
        .collect::<amberfile::Result<_>>()?;
    writer.finish(&graph_of(&ids))?.finish()
}

#[test]
fn an_upload_round_trips_and_appears_only_when_finished() {
    let arrays = raw_arrays(3, 700_000); // 8 MiB: a multipart upload of 5 MiB parts
    let expected = file_with(WriteOptions::default(), &arrays);
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let path = Path::from("dir/out.amber");
    let config = RemoteConfig {
        part_size: 5 << 20,
        ..RemoteConfig::default()
    };
    // Abandoned half way: nothing under the name.
    let mut writer = Writer::new(
        RemoteUpload::new(inner.clone(), path.clone(), config.clone()).unwrap(),
        WriteOptions::default(),
    )
    .unwrap();
    writer
        .write_array_with(&arrays[0].0, &arrays[0].1, Compression::None)
        .unwrap();
    writer
        .write_array_with(&arrays[1].0, &arrays[1].1, Compression::None)
        .unwrap();
    drop(writer);
    let missing = rt().block_on(inner.head(&path)).unwrap_err();
    assert!(
        matches!(missing, amberfile::remote::object_store::Error::NotFound { .. }),
        "{missing}"
    );
    // Explicitly aborted after the whole file was written: still nothing.
    let mut writer = Writer::new(
        RemoteUpload::new(inner.clone(), path.clone(), config.clone()).unwrap(),
        WriteOptions::default(),
    )
    .unwrap();
    let ids: Vec<ArrayId> = arrays
        .iter()
        .map(|(s, b, c)| writer.write_array_with(s, b, *c).unwrap())
        .collect();
    writer.finish(&graph_of(&ids)).unwrap().abort().unwrap();
    assert!(rt().block_on(inner.head(&path)).is_err());
    // Finished: the object is byte for byte what the writer makes in memory.
    write_model(
        RemoteUpload::new(inner.clone(), path.clone(), config).unwrap(),
        &arrays,
    )
    .unwrap();
    let stored = rt().block_on(async { inner.get(&path).await.unwrap().bytes().await.unwrap() });
    assert_eq!(stored.as_ref(), expected.as_slice());
    let reader = RemoteReader::open(inner, path, RemoteConfig::default(), ReadOptions::default()).unwrap();
    reader.verify().unwrap();
}

#[test]
fn file_urls_round_trip_through_the_local_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("model.amber");
    let url = format!("file://{}", target.display());
    assert!(remote::is_url(&url) && !remote::is_url(target.to_str().unwrap()));
    let arrays = raw_arrays(2, 40_000);
    write_model(
        remote::create_url(&url, Vec::<(String, String)>::new()).unwrap(),
        &arrays,
    )
    .unwrap();
    assert_eq!(
        std::fs::read(&target).unwrap(),
        file_with(WriteOptions::default(), &arrays)
    );
    let reader = remote::open_url(&url, Vec::<(String, String)>::new(), ReadOptions::default()).unwrap();
    let id = ids(&reader)[1];
    assert_eq!(reader.read_bytes(id).unwrap(), arrays[1].1);
    reader.verify().unwrap();
    let metadata = remote::metadata_url(
        &url,
        Vec::<(String, String)>::new(),
        &amberfile::Limits::default(),
    )
    .unwrap();
    assert_eq!(metadata.array_count(), 2);
    // A file replaced under the reader: the pinned version no longer matches.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        &target,
        file_with(WriteOptions::default(), &raw_arrays(2, 40_001)),
    )
    .unwrap();
    let err = reader.read_bytes(ids(&reader)[0]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectChanged, "{err}");
}

#[test]
fn unknown_options_and_bad_urls_are_invalid_options() {
    let none = Vec::<(String, String)>::new();
    let err = remote::open_url(
        "s3://bucket/key",
        [("aws_no_such_key", "x")],
        ReadOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidOptions, "{err}");
    let err = remote::open_url("not a url", none.clone(), ReadOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidOptions);
    let err = remote::open_url(
        "file:///tmp/x.amber",
        [("amber_timeout", "soon")],
        ReadOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidOptions);
    let err = remote::open_url("file:///nonexistent/x.amber", none, ReadOptions::default()).unwrap_err();
    assert_eq!(
        (err.kind(), err.io_error().map(|e| e.kind())),
        (ErrorKind::Io, Some(std::io::ErrorKind::NotFound))
    );
}

#[test]
fn views_of_a_remote_array_are_not_zero_copy() {
    let file = small_metadata_file();
    let (store, path) = store_with(&file);
    let reader = open(&store, &path).unwrap();
    let err = reader.view::<f32>(ids(&reader)[0]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotZeroCopy);
}

fn http_options() -> Vec<(&'static str, &'static str)> {
    vec![("allow_http", "true"), ("amber_timeout", "2")]
}

/// Open a file over the lying server and read its first array: the first error.
fn over_http(lie: Lie) -> (Result<Vec<u8>, Error>, Duration) {
    let file = small_metadata_file();
    let server = LyingServer::start(file, lie);
    let started = Instant::now();
    let result = remote::open_url(&server.url("m.amber"), http_options(), ReadOptions::default())
        .and_then(|reader| reader.read_bytes(ids(&reader)[0]));
    (result, started.elapsed())
}

#[test]
fn an_honest_http_server_serves_the_file() {
    let file = small_metadata_file();
    let server = LyingServer::start(file.clone(), Lie::None);
    let reader = remote::open_url(&server.url("m.amber"), http_options(), ReadOptions::default()).unwrap();
    assert_eq!(server.requests(), 2); // the suffix and the header, sent together
    let id = ids(&reader)[0];
    assert_eq!(reader.read_bytes(id).unwrap(), local_bytes(&file, id));
    reader.verify().unwrap();
    assert_eq!(server.requests(), 4);
}

#[test]
fn each_lie_of_the_server_gets_its_typed_error_in_bounded_time() {
    let cases = [
        (Lie::ShortRange, ErrorKind::BadResponse),
        (Lie::OversizedRange, ErrorKind::BadResponse),
        (Lie::WrongContentRange, ErrorKind::BadResponse),
        (Lie::IgnoreRange, ErrorKind::BadResponse),
        (Lie::ChangingEtag, ErrorKind::ObjectChanged),
        (Lie::ChangingSize, ErrorKind::ObjectChanged),
        (Lie::Stall, ErrorKind::Io),
    ];
    for (lie, kind) in cases {
        let (result, elapsed) = over_http(lie);
        let err = result.unwrap_err();
        // The header and the suffix are sent together: whichever the server answers second
        // names another size, in its Content-Range (BadResponse) or against the pinned one.
        let also = (lie == Lie::ChangingSize).then_some(ErrorKind::BadResponse);
        assert!(err.kind() == kind || Some(err.kind()) == also, "{lie:?}: {err}");
        assert!(elapsed < Duration::from_secs(10), "{lie:?} took {elapsed:?}");
        if lie == Lie::Stall {
            assert_eq!(
                err.io_error().map(|e| e.kind()),
                Some(std::io::ErrorKind::TimedOut),
                "{err}"
            );
        }
    }
}
