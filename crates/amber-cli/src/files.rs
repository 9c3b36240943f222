//! Files: opening Amber files, writing outputs atomically, and progress bars for big jobs.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use amberfile::{ReadOptions, Reader};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memmap2::Mmap;
use tempfile::NamedTempFile;

use crate::failure::Failure;

/// Jobs over this many bytes show a progress bar (when stderr is a terminal).
const PROGRESS_THRESHOLD: u64 = 100 << 20;

/// Pieces in which in-memory bytes are written, so progress moves during a huge raw array.
pub const WRITE_PIECE: usize = 8 << 20;

/// Opens and validates an Amber file by mapping it, so arrays of any size are read without
/// copying the file into memory. Array CRCs are checked when each array is first read.
#[allow(unsafe_code)]
pub fn open_amber(path: &Path) -> Result<Reader<Mmap>, Failure> {
    let metadata = std::fs::metadata(path).map_err(|e| Failure::io(path, e))?;
    if !metadata.is_file() {
        return Err(Failure::Usage(format!("{}: not a regular file", path.display())));
    }
    // SAFETY: memmap2's contract is that the file is not modified or truncated while mapped.
    // The mapping lives only for this short-lived process, and Amber writers (this crate's and
    // this tool's) replace files by renaming a new one into place, which leaves the mapped
    // inode intact. A concurrent in-place edit by another program is the risk every
    // mmap-based tool (ripgrep, git) accepts; it cannot corrupt any file, only this read.
    unsafe { Reader::open_mmap(path, ReadOptions::default()) }.map_err(|e| Failure::amber(path, e))
}

/// A progress bar on stderr for a job of `total` bytes, hidden for small jobs and when stderr
/// is not a terminal (so scripts and logs never see control characters).
pub fn progress(total: u64, what: &str) -> ProgressBar {
    use std::io::IsTerminal;
    if total <= PROGRESS_THRESHOLD || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// Writes array `id`'s logical bytes to `sink` in pieces of [`WRITE_PIECE`], advancing `bar`.
/// `files` are the Amber file (named in errors about its content) and the output (named in
/// I/O errors).
pub fn stream_array<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    id: amberfile::ArrayId,
    sink: &mut impl io::Write,
    bar: &ProgressBar,
    (source, target): (&Path, &Path),
) -> Result<(), Failure> {
    let mut output_error = None;
    let result = reader.for_each_chunk(id, |chunk| {
        for piece in chunk.chunks(WRITE_PIECE) {
            if let Err(e) = sink.write_all(piece) {
                output_error = Some(e);
                // Stops the walk; the real error is the one kept above.
                return Err(io::Error::other("output failed").into());
            }
            bar.inc(piece.len() as u64);
        }
        Ok(())
    });
    match output_error {
        Some(e) => Err(Failure::io(target, e)),
        None => result.map_err(|e| Failure::amber(source, e)),
    }
}

/// A reader that advances a progress bar by the bytes it reads.
pub struct ProgressRead<'p, R> {
    pub inner: R,
    pub bar: &'p ProgressBar,
}

impl<R: Read> Read for ProgressRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// An output file written under a temporary name in the target's directory and renamed into
/// place by [`AtomicOutput::commit`], so a failure never leaves a partial file behind.
pub struct AtomicOutput {
    pub file: NamedTempFile,
    target: PathBuf,
}

impl AtomicOutput {
    pub fn create(target: &Path) -> Result<Self, Failure> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".amber-").suffix(".tmp");
        // The output gets a new file's usual mode (0666 less the umask), not a temp file's 0600.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let file = builder.tempfile_in(dir).map_err(|e| Failure::io(target, e))?;
        Ok(AtomicOutput {
            file,
            target: target.to_path_buf(),
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// A handle for writing (the temporary file itself).
    pub fn handle(&self) -> &File {
        self.file.as_file()
    }

    pub fn commit(self) -> Result<(), Failure> {
        let target = self.target;
        self.file
            .persist(&target)
            .map(drop)
            .map_err(|e| Failure::io(&target, e.error))
    }
}
