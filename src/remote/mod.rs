//! Reading and writing Amber files on object storage and over HTTP, one byte range at a time,
//! through the [`object_store`] crate (feature `remote`; spec section 9.7).
//!
//! # API structure
//!
//! - [`RemoteSource`]: a remote object as a [`ByteSource`](crate::ByteSource). It pins the object's
//!   version (ETag, version id) from the first response and sends it with `if_match` on every
//!   later request, so a file replaced mid-read is [`ObjectChanged`](crate::ErrorKind::ObjectChanged),
//!   never a mix of two files. It keeps what it fetched for the open (the last 64 KiB, the header,
//!   the rest of the metadata) and the ranges fetched ahead for an array.
//! - [`AsyncReader`]: a partial reader (spec 9.6) over a [`RemoteSource`], with the fetch plan of
//!   spec 9.7: opening is one round trip, a suffix read of the last 64 KiB sent together with a
//!   read of the header, and one more only for metadata the suffix did not hold; each array is
//!   one more, its padding and extents fetched together. Every rule is applied by the same code as for a local file.
//! - [`RemoteReader`]: the same reader for blocking callers (the CLI, Python); it drives the
//!   [`AsyncReader`]'s futures on a runtime of this module's own, and derefs to
//!   [`Reader<RemoteSource>`](crate::Reader) for every other accessor.
//! - [`RemoteUpload`]: an `io::Write` over a multipart upload, for a [`Writer`](crate::Writer):
//!   [`RemoteUpload::finish`] completes it, and an abandoned or failed upload is aborted, so no
//!   partial object ever appears under the name.
//!
//! A URL and its options become a store with [`parse_url`]; [`open_url`], [`metadata_url`] and
//! [`create_url`] do that and open or create in one call, reusing a store already built from the
//! same place, options and environment (its TLS roots and connections).

mod reader;
mod source;
mod stream;
mod upload;
mod url;

use std::sync::OnceLock;
use std::time::Duration;

pub use object_store;

use crate::error::{Error, ErrorKind, Result};
pub use reader::{AsyncReader, RemoteReader};
pub use source::{Fetched, RemoteSource};
pub use upload::RemoteUpload;
pub use url::{create_url, is_url, metadata_url, open_url, parse_url, read_url};

/// How much of the end of an object the open fetches in its first request: the trailer and, for
/// most files, the whole metadata section (spec 9.7).
pub const SUFFIX_READ_BYTES: u64 = 64 << 10;

/// Settings of this module (the `amber_*` options of a URL), apart from the store's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// Bound on one request, the store's retries included; past it the request fails with an
    /// `Io` error of kind `TimedOut`. Option `amber_timeout` (seconds).
    pub timeout: Duration,
    /// Whether the store answers suffix range requests (`bytes=-N`). Azure does not: the open
    /// then asks for the size first (one more request). Option `amber_suffix_reads`.
    pub suffix_reads: bool,
    /// Bytes buffered per upload part. Option `amber_part_size`.
    pub part_size: usize,
}

/// The smallest part S3 accepts (but the last).
pub const MIN_PART_SIZE: usize = 5 << 20;

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            timeout: Duration::from_secs(120),
            suffix_reads: true,
            part_size: 8 << 20,
        }
    }
}

/// The runtime that blocking callers' futures run on: one per process, two worker threads,
/// created on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            install_crypto();
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("amber-remote")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::io(None, std::io::Error::other(e.clone())))
}

/// Makes ring the TLS (https) provider of rustls before any HTTP client is built, unless the
/// application installed one first (which then wins: the error of a second install is ignored).
fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Runs `future` to completion for a blocking caller.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::new(
            ErrorKind::InvalidOptions,
            None,
            "a blocking remote call was made from inside an async runtime: use AsyncReader",
        ));
    }
    Ok(runtime()?.block_on(future))
}

/// An `object_store` error as this crate's error: a failed precondition means the object
/// changed; a response that does not match its request is BadResponse; the rest is Io with the
/// `io::ErrorKind` that says what happened.
#[cold]
fn store_error(offset: Option<u64>, error: object_store::Error) -> Error {
    use object_store::Error as E;
    use std::io::ErrorKind as Io;
    let kind = match &error {
        E::Precondition { .. } => {
            return Error::object_changed(offset, format!("the object was replaced: {error}"))
        }
        E::NotFound { .. } => Io::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => Io::PermissionDenied,
        E::AlreadyExists { .. } => Io::AlreadyExists,
        // The HTTP store's words for a 200 answer to a range request.
        E::NotSupported { source } if source.to_string().contains("Range request not supported") => {
            return Error::bad_response(offset, format!("the server ignored the range: {error}"))
        }
        E::NotSupported { .. } | E::NotImplemented { .. } => Io::Unsupported,
        E::InvalidPath { .. } | E::UnknownConfigurationKey { .. } => {
            return Error::new(ErrorKind::InvalidOptions, offset, error.to_string())
        }
        _ => {
            let text = error_chain(&error);
            // object_store checks a ranged response's status and Content-Range itself; its
            // error type for that is private, so it is recognized by its words.
            let mismatched = [
                "non-partial response",
                "Content-Range",
                "CONTENT_RANGE",
                "Requested ",
            ]
            .iter()
            .any(|words| text.contains(words));
            if mismatched {
                return Error::bad_response(offset, text);
            }
            if text.contains("timed out") || text.contains("timeout") {
                Io::TimedOut
            } else {
                Io::Other
            }
        }
    };
    Error::io(offset, std::io::Error::new(kind, error))
}

/// An error and its sources, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// `future`, failing with a `TimedOut` Io error after `limit`.
async fn bounded<T>(
    limit: Duration,
    offset: Option<u64>,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result,
        Err(_) => Err(Error::io(
            offset,
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the store did not answer within {limit:?}"),
            ),
        )),
    }
}
