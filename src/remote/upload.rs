//! Writing to object storage: an `io::Write` over `object_store`'s buffered multipart upload,
//! so the streaming [`Writer`](crate::Writer) writes a model to a bucket in one pass, holding a
//! few parts in memory, never the model.

use std::io::{self, Write};
use std::sync::Arc;

use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::ObjectStore;
use tokio::io::AsyncWriteExt;

use super::{block_on, runtime, RemoteConfig};
use crate::error::{Error, Result};

/// Parts uploading at once: memory is about `(this + 1) x part_size`.
const PARTS_IN_FLIGHT: usize = 2;

/// An upload to an object store, for [`Writer::new`](crate::Writer::new). Nothing is visible
/// under the name until [`RemoteUpload::finish`]; an upload dropped before it, or whose write
/// failed, is aborted (its parts deleted), so a failed write never leaves a partial object.
///
/// Small objects go up in one request, larger ones as a multipart upload of `part_size` parts
/// ([`RemoteConfig::part_size`]). Blocking: not for use inside an async runtime.
pub struct RemoteUpload {
    writer: Option<BufWriter>,
    /// Bytes gathered before they are handed to the upload, so small writes cost no round trip
    /// through the runtime.
    pending: Vec<u8>,
    path: Path,
    written: u64,
}

impl std::fmt::Debug for RemoteUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteUpload")
            .field("path", &self.path.as_ref())
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

/// Bytes gathered before a hand-off to the upload.
const PENDING_BYTES: usize = 1 << 20;

impl RemoteUpload {
    /// Starts an upload to `path` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path, config: RemoteConfig) -> Result<Self> {
        let writer = BufWriter::with_capacity(store, path.clone(), config.part_size)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        Ok(RemoteUpload {
            writer: Some(writer),
            pending: Vec::new(),
            path,
            written: 0,
        })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn hand_off(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(writer) = self.writer.as_mut() else {
            return Err(io::Error::other("the upload was already finished or aborted"));
        };
        let pending = &self.pending;
        let result = block_on(async { writer.write_all(pending).await })
            .map_err(io::Error::other)
            .and_then(|r| r);
        self.pending.clear();
        if result.is_err() {
            self.abort_now();
        }
        result
    }

    /// Completes the upload: the object appears under its name now, whole.
    pub fn finish(mut self) -> Result<()> {
        self.hand_off().map_err(|e| Error::io(self.written, e))?;
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| Error::io(None, io::Error::other("the upload was aborted")))?;
        match block_on(async { writer.shutdown().await })? {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = block_on(writer.abort());
                Err(Error::io(None, e))
            }
        }
    }

    /// Abandons the upload: nothing appears under the name.
    pub fn abort(mut self) -> Result<()> {
        match self.writer.take() {
            Some(mut writer) => block_on(writer.abort())?.map_err(|e| super::store_error(None, e)),
            None => Ok(()),
        }
    }

    fn abort_now(&mut self) {
        if let Some(mut writer) = self.writer.take() {
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = block_on(writer.abort());
            } else if let Ok(runtime) = runtime() {
                runtime.spawn(async move {
                    let _ = writer.abort().await;
                });
            }
        }
    }
}

impl Write for RemoteUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.writer.is_none() {
            return Err(io::Error::other("the upload was already finished or aborted"));
        }
        if self.pending.len() + buf.len() > PENDING_BYTES {
            self.hand_off()?;
        }
        if buf.len() >= PENDING_BYTES {
            self.pending.extend_from_slice(buf);
            self.hand_off()?;
        } else {
            self.pending.extend_from_slice(buf);
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    /// Hands what is gathered to the upload (parts go up as they fill; nothing is visible
    /// before [`RemoteUpload::finish`]).
    fn flush(&mut self) -> io::Result<()> {
        self.hand_off()
    }
}

impl Drop for RemoteUpload {
    fn drop(&mut self) {
        self.abort_now();
    }
}
