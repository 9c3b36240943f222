//! Files: opening Amber files (local paths, or URLs through `amberfile::remote`), writing
//! outputs atomically (or uploading them), and progress bars for big jobs.

use std::io::{self, Read};
use std::path::Path;

use amberfile::remote::{self, RemoteReader, RemoteUpload};
use amberfile::write::AtomicFile;
use amberfile::{ReadOptions, Reader};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memmap2::Mmap;

use crate::failure::Failure;

/// Jobs over this many bytes show a progress bar (when stderr is a terminal).
const PROGRESS_THRESHOLD: u64 = 100 << 20;

/// Pieces in which in-memory bytes are written, so progress moves during a huge raw array.
pub const WRITE_PIECE: usize = 8 << 20;

/// Options for the object store of a URL given where a file is expected.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// An option for the store of a URL argument (s3://, gs://, az://, http(s)://, file://),
    /// e.g. aws_endpoint=http://127.0.0.1:9000 or aws_allow_http=true; repeatable. Credentials
    /// not given are read from the environment (AWS_*, GOOGLE_*, AZURE_*).
    #[arg(long = "store-option", value_name = "KEY=VALUE", global = true)]
    pub store_options: Vec<String>,
}

impl StoreArgs {
    pub fn pairs(&self) -> Result<Vec<(String, String)>, Failure> {
        self.store_options
            .iter()
            .map(|option| match option.split_once('=') {
                Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
                None => Err(Failure::Usage(format!(
                    "--store-option {option}: expected KEY=VALUE"
                ))),
            })
            .collect()
    }
}

/// The URL `path` names, if it is one rather than a local path.
pub fn url_of(path: &Path) -> Option<&str> {
    path.to_str().filter(|text| remote::is_url(text))
}

/// An Amber input: a mapped local file, or a remote object read by ranges.
pub enum Input {
    Local(Reader<Mmap>),
    Remote(RemoteReader),
}

/// Runs `$body` with `$reader` bound to the input's `Reader`, whichever its source.
macro_rules! with_reader {
    ($input:expr, |$reader:ident| $body:expr) => {
        match $input {
            $crate::files::Input::Local($reader) => $body,
            $crate::files::Input::Remote(remote) => {
                let $reader = remote.reader();
                $body
            }
        }
    };
}
pub(crate) use with_reader;

/// Opens `path`: a URL as a remote partial reader (the header, trailer and metadata only), a
/// local path as [`open_amber`] does.
pub fn open_input(path: &Path, store: &StoreArgs) -> Result<Input, Failure> {
    match url_of(path) {
        Some(url) => remote::open_url(url, store.pairs()?, ReadOptions::default())
            .map(Input::Remote)
            .map_err(|e| Failure::amber(path, e)),
        None => open_amber(path).map(Input::Local),
    }
}

impl Input {
    /// How arrays are fetched out of this input.
    pub fn fetcher(&self) -> Fetcher<'_> {
        match self {
            Input::Local(_) => Fetcher { remote: None },
            Input::Remote(remote) => Fetcher { remote: Some(remote) },
        }
    }
}

/// From a remote input, small arrays are fetched together in runs of at most this many stored
/// bytes; a larger array is streamed alone, a run of its blocks at a time.
const RUN_BYTES: u64 = 64 << 20;

/// How a job gets array bytes out of its input: a mapped file reads them in place; a remote file
/// fetches them in few round trips, where reading them as a local one would take a request per
/// array or block.
#[derive(Clone, Copy)]
pub struct Fetcher<'i> {
    remote: Option<&'i RemoteReader>,
}

impl Fetcher<'_> {
    /// Calls `each` with every index of `ids`, in order. From a remote input, each run of arrays
    /// of together at most [`RUN_BYTES`] stored bytes is first fetched in one round trip.
    pub fn in_runs(
        &self,
        ids: &[amberfile::ArrayId],
        input: &Path,
        mut each: impl FnMut(usize) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        let Some(remote) = self.remote else {
            return (0..ids.len()).try_for_each(each);
        };
        let failed = |e| Failure::amber(input, e);
        let mut first = 0;
        while first < ids.len() {
            let end = first + remote.run_len(&ids[first..], RUN_BYTES).map_err(failed)?;
            if end == first {
                // Too big to hold with others: `stream_array` fetches it in runs of blocks.
                each(first)?;
                first += 1;
                continue;
            }
            let _fetched = remote.fetch_arrays(&ids[first..end]).map_err(failed)?;
            (first..end).try_for_each(&mut each)?;
            first = end;
        }
        Ok(())
    }

    /// Writes array `id`'s logical bytes to `sink` in pieces of [`WRITE_PIECE`], advancing
    /// `bar`. `files` are the Amber file (named in errors about its content) and the output
    /// (named in I/O errors).
    pub fn stream_array<S: amberfile::ByteSource>(
        &self,
        reader: &Reader<S>,
        id: amberfile::ArrayId,
        sink: &mut impl io::Write,
        bar: &ProgressBar,
        (source, target): (&Path, &Path),
    ) -> Result<(), Failure> {
        let mut output_error = None;
        let write = |chunk: &[u8]| {
            for piece in chunk.chunks(WRITE_PIECE) {
                if let Err(e) = sink.write_all(piece) {
                    output_error = Some(e);
                    // Stops the walk; the real error is the one kept above.
                    return Err(io::Error::other("output failed").into());
                }
                bar.inc(piece.len() as u64);
            }
            Ok(())
        };
        let result = match self.remote {
            Some(remote) => remote.for_each_chunk(id, write),
            None => reader.for_each_chunk(id, write),
        };
        match output_error {
            Some(e) => Err(Failure::io(target, e)),
            None => result.map_err(|e| Failure::amber(source, e)),
        }
    }
}

/// Where an Amber output goes: a local file renamed into place, or an upload completed at the
/// end; either way nothing appears under the name unless the whole file was written.
pub enum Output {
    Local(amberfile::PendingFile),
    Remote(RemoteUpload),
}

impl io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Local(file) => file.write(buf),
            Output::Remote(upload) => upload.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Local(file) => file.flush(),
            Output::Remote(upload) => upload.flush(),
        }
    }
}

impl Output {
    /// Starts writing `target`, a local path or a URL.
    pub fn create(
        target: &Path,
        store: &StoreArgs,
        options: amberfile::WriteOptions,
    ) -> Result<amberfile::Writer<Output>, Failure> {
        let failed = |e: amberfile::Error| Failure::Io(format!("{}: {e}", target.display()));
        let output = match url_of(target) {
            Some(url) => Output::Remote(remote::create_url(url, store.pairs()?).map_err(failed)?),
            None => Output::Local(amberfile::PendingFile::create(target, &options).map_err(failed)?),
        };
        amberfile::Writer::new(output, options).map_err(failed)
    }

    /// Moves the file into place, or completes the upload.
    pub fn commit(self) -> amberfile::Result<()> {
        match self {
            Output::Local(file) => file.commit(),
            Output::Remote(upload) => upload.finish(),
        }
    }
}

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

/// Starts an output file: written under a temporary name in `target`'s directory and renamed
/// into place by [`commit_output`], so a failure never leaves a partial file behind.
pub fn create_output(target: &Path) -> Result<AtomicFile, Failure> {
    AtomicFile::create(target).map_err(|e| Failure::io(target, e))
}

/// Renames a finished output into place. The tool does not fsync: a crash before the data
/// reaches the disk leaves the old file or the new one, as a plain `cp` would.
pub fn commit_output(output: AtomicFile) -> Result<(), Failure> {
    let target = output.target().to_path_buf();
    output.commit(false).map_err(|e| Failure::io(&target, e))
}
