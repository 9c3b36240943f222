//! Atomic path writes (spec 13.10): the file is written under a temporary name in its target's
//! directory and renamed over the target only once complete, so a crash never leaves half a
//! file under the target name and a reader that mapped the old file keeps its bytes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::{WriteOptions, Writer};
use crate::error::{Error, Result};
use crate::graph::Graph;

/// A file being written as `.amber-*.tmp` next to its target; [`AtomicFile::commit`] renames it
/// into place. Dropped without a commit, the temporary file is deleted. [`Writer::create`] uses
/// it, and so can any tool that replaces a file the same way.
pub struct AtomicFile {
    temp: NamedTempFile,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file in `target`'s directory. It gets a new file's usual mode
    /// (0666 less the umask), not a temporary file's 0600.
    pub fn create(target: impl AsRef<Path>) -> io::Result<Self> {
        let target = target.as_ref().to_path_buf();
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".amber-").suffix(".tmp");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder.tempfile_in(&dir)?;
        Ok(AtomicFile { temp, target })
    }

    /// The path the file will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary file, for writers that take a `&File` (it is `Write` and `Seek`).
    pub fn as_file(&self) -> &File {
        self.temp.as_file()
    }

    /// Moves the file to its target name. With `fsync`, the file reaches stable storage before
    /// the rename and its directory after. A big file it replaces is released on a background
    /// thread, so freeing an old model does not delay the caller.
    pub fn commit(self, fsync: bool) -> io::Result<()> {
        if fsync {
            self.temp.as_file().sync_all()?;
        }
        let replaced = open_replaced_file(&self.target);
        self.temp.persist(&self.target).map_err(|e| e.error)?;
        if let Some(replaced) = replaced {
            // The replaced file's last reference: freeing its pages and blocks (milliseconds
            // for a big model) happens on another thread instead of delaying the caller. If no
            // thread can be started, it is freed here.
            let _ = std::thread::Builder::new().spawn(move || drop(replaced));
        }
        if fsync {
            if let Some(dir) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
                File::open(dir).and_then(|d| d.sync_all())?;
            }
        }
        Ok(())
    }
}

/// Writes go through the temporary file's own `Write`, whose errors name its path.
impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// Below this size, freeing a replaced file costs less than starting a thread to do it.
#[cfg(unix)]
const RELEASE_IN_BACKGROUND_BYTES: u64 = 8 << 20;

/// The big regular file a commit is about to replace, held open so that the rename does not
/// drop its last reference. Anything else (no file, a small one, a FIFO, no permission) is left
/// alone; the open never blocks, even if a FIFO took the file's place after the check.
#[cfg(unix)]
fn open_replaced_file(target: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let metadata = std::fs::symlink_metadata(target).ok()?;
    if !metadata.is_file() || metadata.len() < RELEASE_IN_BACKGROUND_BYTES {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(target)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// Elsewhere a file held open may refuse to be replaced: the rename frees it in place.
#[cfg(not(unix))]
fn open_replaced_file(_target: &Path) -> Option<File> {
    None
}

/// The sink of a [`Writer`] made by [`Writer::create`]: an [`AtomicFile`] behind a buffer.
/// [`Writer::commit`] renames it into place; dropped without a commit, the temporary file is
/// deleted.
pub struct PendingFile {
    file: BufWriter<AtomicFile>,
    fsync: bool,
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Writer<PendingFile> {
    /// Starts writing `path` atomically (temporary file + rename).
    pub fn create(path: impl AsRef<Path>, options: WriteOptions) -> Result<Self> {
        Writer::new(PendingFile::create(path, &options)?, options)
    }

    /// Finishes the file and moves it to its target name. A file it replaces is released on a
    /// background thread, so freeing a big old model does not delay the caller.
    pub fn commit(self, graph: &Graph) -> Result<()> {
        let position = self.position;
        self.finish(graph)?.commit().map_err(|e| match e.into_io_error() {
            Ok(source) => Error::io(position, source),
            Err(other) => other,
        })
    }
}

impl PendingFile {
    /// A temporary file beside `path`, to become `path` at [`PendingFile::commit`] (fsynced
    /// first if `options.fsync`): a sink for [`Writer::new`] where the writer must be wrapped.
    pub fn create(path: impl AsRef<Path>, options: &WriteOptions) -> Result<Self> {
        let file = AtomicFile::create(path).map_err(|e| Error::io(None, e))?;
        Ok(PendingFile {
            file: BufWriter::with_capacity(64 << 10, file),
            fsync: options.fsync,
        })
    }

    /// Moves a finished file (what [`Writer::finish`] returns) to its target name.
    pub fn commit(self) -> Result<()> {
        let file = self
            .file
            .into_inner()
            .map_err(|e| Error::io(None, e.into_error()))?;
        file.commit(self.fsync).map_err(|e| Error::io(None, e))
    }
}
