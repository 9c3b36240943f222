//! For the remote reader's tests: [`CountingStore`], a store wrapper that counts the requests
//! that reach the store (and can refuse suffix reads, as Azure does), and [`LyingServer`], a
//! small HTTP server on 127.0.0.1 that serves one object honestly or tells one kind of lie.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use amberfile::remote::object_store::path::Path;
use amberfile::remote::object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

/// Counts the requests that reach `inner`: every get (ranged, suffix, whole or HEAD) and put.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    gets: AtomicUsize,
    /// Requests sent while none was in flight: round trips, requests sent together counting once.
    round_trips: AtomicUsize,
    in_flight: AtomicUsize,
    refuse_suffix: AtomicBool,
    ranges: std::sync::Mutex<Vec<Option<GetRange>>>,
}

impl CountingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<Self> {
        Arc::new(CountingStore {
            inner,
            gets: AtomicUsize::new(0),
            round_trips: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            refuse_suffix: AtomicBool::new(false),
            ranges: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Makes suffix reads fail with NotSupported, as on a store without them.
    pub fn refuse_suffix_reads(&self) {
        self.refuse_suffix.store(true, Ordering::Relaxed);
    }

    /// Get and head requests so far.
    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::Relaxed)
    }

    /// Round trips so far: a request sent while another is in flight shares its round trip.
    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The range of every get so far (`None`: the whole object or a HEAD request).
    pub fn ranges(&self) -> Vec<Option<GetRange>> {
        self.ranges.lock().unwrap().clone()
    }

    /// Sets the count back to 0 and forgets the ranges.
    pub fn reset(&self) {
        self.gets.store(0, Ordering::Relaxed);
        self.round_trips.store(0, Ordering::Relaxed);
        self.ranges.lock().unwrap().clear();
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.ranges.lock().unwrap().push(options.range.clone());
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.round_trips.fetch_add(1, Ordering::Relaxed);
        }
        // In flight until the next poll, so requests sent together overlap as on a network.
        tokio::task::yield_now().await;
        let result = if self.refuse_suffix.load(Ordering::Relaxed)
            && matches!(options.range, Some(GetRange::Suffix(_)))
        {
            Err(amberfile::remote::object_store::Error::NotSupported {
                source: "suffix range requests".into(),
            })
        } else {
            self.inner.get_opts(location, options).await
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// What a [`LyingServer`] does with a range request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// Answers every request correctly (206 with the range, ETag, Last-Modified).
    None,
    /// After the first request, sends fewer bytes than asked (and says so in Content-Length).
    ShortRange,
    /// After the first request, sends more bytes than asked.
    OversizedRange,
    /// After the first request, names another range in Content-Range.
    WrongContentRange,
    /// After the first request, ignores Range: 200 with the whole object.
    IgnoreRange,
    /// After the first request, answers with another ETag (and ignores If-Match).
    ChangingEtag,
    /// After the first request, reports another object size in Content-Range.
    ChangingSize,
    /// After the first request, never answers.
    Stall,
}

/// A small HTTP/1.1 server on 127.0.0.1 serving `object` at every path, lying as told. It runs
/// on a thread of its own and stops when dropped.
pub struct LyingServer {
    address: SocketAddr,
    requests: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Served {
    object: Bytes,
    lie: Lie,
    requests: Arc<AtomicUsize>,
}

impl LyingServer {
    /// Starts serving `object`.
    pub fn start(object: Vec<u8>, lie: Lie) -> LyingServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let address = listener.local_addr().expect("local address");
        let requests = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(Served {
            object: Bytes::from(object),
            lie,
            requests: requests.clone(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test server runtime");
            runtime.block_on(serve(listener, served, stopped));
        });
        LyingServer {
            address,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.address)
    }

    /// Requests answered or refused so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for LyingServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    served: Arc<Served>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let served = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| answer(served.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` as a range of an object of `size` bytes.
fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    if start.is_empty() {
        let n: u64 = end.parse().ok()?;
        return Some((size.saturating_sub(n), size));
    }
    let start: u64 = start.parse().ok()?;
    let end = if end.is_empty() {
        size
    } else {
        end.parse::<u64>().ok()?.saturating_add(1).min(size)
    };
    (start < end).then_some((start, end))
}

async fn answer(
    served: Arc<Served>,
    request: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let count = served.requests.fetch_add(1, Ordering::Relaxed);
    let lying = count > 0 && served.lie != Lie::None;
    let size = served.object.len() as u64;
    let range = request
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if lying && served.lie == Lie::Stall {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let etag = if lying && served.lie == Lie::ChangingEtag {
        format!("\"v{count}\"")
    } else {
        "\"v0\"".to_owned()
    };
    let builder = Response::builder()
        .header("etag", etag)
        .header("last-modified", "Wed, 02 Dec 2026 06:00:00 GMT")
        .header("accept-ranges", "bytes");
    let whole = |builder: hyper::http::response::Builder| {
        builder
            .status(StatusCode::OK)
            .header("content-length", size)
            .body(Full::new(served.object.clone()))
            .unwrap()
    };
    if request.method() == hyper::Method::HEAD {
        return Ok(builder
            .status(StatusCode::OK)
            .header("content-length", size)
            .body(Full::new(Bytes::new()))
            .unwrap());
    }
    let Some((start, end)) = range.as_deref().and_then(|r| parse_range(r, size)) else {
        return Ok(whole(builder));
    };
    if lying && served.lie == Lie::IgnoreRange {
        return Ok(whole(builder));
    }
    let mut body_end = end;
    let (mut named_start, mut named_end, mut named_size) = (start, end, size);
    if lying {
        match served.lie {
            Lie::ShortRange => body_end = start + (end - start) / 2,
            Lie::WrongContentRange => {
                named_start = start.saturating_sub(8);
                named_end = end.saturating_sub(8).max(named_start + 1);
            }
            Lie::ChangingSize => named_size = size + 1,
            _ => {}
        }
    }
    let mut body = served.object.slice(start as usize..body_end as usize).to_vec();
    if lying && served.lie == Lie::OversizedRange {
        body.extend_from_slice(&[0u8; 16]);
    }
    Ok(builder
        .status(StatusCode::PARTIAL_CONTENT)
        .header(
            "content-range",
            format!("bytes {named_start}-{}/{named_size}", named_end - 1),
        )
        .header("content-length", body.len())
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}
