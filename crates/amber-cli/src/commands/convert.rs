//! `amber convert IN OUT`: .npy, .npz and .safetensors into Amber, and Amber back out.
//!
//! The formats are chosen by file extension. Array bytes are copied unchanged and streamed:
//! into Amber through `Writer::write_array_from_reader` straight from the input file, out of
//! Amber through `Reader::for_each_chunk` from a mapping of it, so memory stays bounded by a
//! few blocks whatever the file size.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use amberfile::{ArrayId, ArraySpec, Compression, DType, Graph, Node, WriteOptions, Writer};
use clap::Args;
use indicatif::ProgressBar;

use crate::failure::{with_article, Failure};
use crate::files::{self, ProgressRead};
use crate::foreign::{npy, npz, safetensors, ArraySink};

pub const CONVERT_HELP: &str = "\
Formats are chosen by extension: .amber, .npy, .npz, .safetensors. One side must be .amber.
  .npy          -> .amber  the graph is the array itself
  .npz          -> .amber  the graph is a map from member name (without .npy) to array
  .safetensors  -> .amber  the graph is a map from tensor name to array, in data order, after
                           an optional \"__metadata__\" map of strings
  .amber -> .npz, .safetensors, .npy  when the graph is a flat map of string keys to arrays
                           (or a single array, for .npz and .npy); otherwise the error names
                           the first entry that cannot be represented.
Array bytes are copied unchanged: npy -> amber -> npy and safetensors -> amber -> safetensors
give back the same bytes. Outputs are written to a temporary file and renamed into place.
Jobs over 100 MiB show a progress bar on standard error when it is a terminal.

Exit status:
  0  success
  1  an input file is invalid, or its content cannot be represented in the output format
  2  usage error or I/O error";

#[derive(Args)]
pub struct ConvertArgs {
    /// The input file (.npy, .npz, .safetensors or .amber).
    input: PathBuf,
    /// The output file (.amber, or .npz, .safetensors or .npy from an Amber input).
    output: PathBuf,
    /// Compress arrays with zstd at this level (1-22; 3 is zstd's default). Amber output only.
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(i32).range(1..=22))]
    compress: Option<i32>,
    /// Byte-shuffle elements before compressing (helps floats). Needs --compress.
    #[arg(long, requires = "compress")]
    shuffle: bool,
    /// Alignment of raw arrays in the Amber output: a power of two from 64 to 16777216
    /// (e.g. 4096 for pages). Default 64.
    #[arg(long, value_name = "N", value_parser = parse_alignment)]
    alignment: Option<u32>,
}

fn parse_alignment(text: &str) -> Result<u32, String> {
    let n: u32 = text.parse().map_err(|_| format!("'{text}' is not a number"))?;
    let limits = amberfile::limits::MIN_ALIGNMENT..=amberfile::limits::MAX_ALIGNMENT;
    if !n.is_power_of_two() || !limits.contains(&n) {
        return Err(format!("{n} is not a power of two from 64 to 16777216"));
    }
    Ok(n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Amber,
    Npy,
    Npz,
    Safetensors,
}

fn format_of(path: &Path) -> Result<Format, Failure> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("amber") => Ok(Format::Amber),
        Some("npy") => Ok(Format::Npy),
        Some("npz") => Ok(Format::Npz),
        Some("safetensors") => Ok(Format::Safetensors),
        _ => Err(Failure::Usage(format!(
            "{}: unknown format; the extension must be .amber, .npy, .npz or .safetensors",
            path.display()
        ))),
    }
}

pub fn run(args: &ConvertArgs, store: &files::StoreArgs) -> Result<(), Failure> {
    let (from, to) = (format_of(&args.input)?, format_of(&args.output)?);
    if to != Format::Amber && (args.compress.is_some() || args.alignment.is_some()) {
        return Err(Failure::Usage(
            "--compress, --shuffle and --alignment apply only to .amber output".into(),
        ));
    }
    match (from, to) {
        (Format::Amber, Format::Amber) => Err(Failure::Usage(
            "both files are .amber; convert goes between Amber and .npy, .npz or .safetensors".into(),
        )),
        (_, Format::Amber) => {
            let compression = match args.compress {
                Some(level) => Compression::Zstd {
                    level,
                    shuffle: args.shuffle,
                },
                None => Compression::None,
            };
            let options = WriteOptions {
                alignment: args.alignment.unwrap_or(64),
                compression,
                ..WriteOptions::default()
            };
            let mut sink = AmberSink::create(&args.input, &args.output, store, options)?;
            match from {
                Format::Npy => npy::read_into(&args.input, &mut sink)?,
                Format::Npz => npz::read_into(&args.input, &mut sink)?,
                _ => safetensors::read_into(&args.input, &mut sink)?,
            }
            sink.commit()
        }
        (Format::Amber, to) => {
            let opened = files::open_input(&args.input, store)?;
            let (fetcher, paths) = (opened.fetcher(), (args.input.as_path(), args.output.as_path()));
            files::with_reader!(&opened, |reader| match to {
                Format::Npy => amber_to_npy(reader, fetcher, paths),
                Format::Npz => npz::write_from(reader, fetcher, paths),
                _ => safetensors::write_from(reader, fetcher, paths),
            })
        }
        _ => Err(Failure::Usage(format!(
            "cannot convert {:?} to {:?} directly; one side must be .amber",
            from, to
        ))),
    }
}

fn amber_to_npy<S: amberfile::ByteSource>(
    reader: &amberfile::Reader<S>,
    fetcher: files::Fetcher,
    (input, output): (&Path, &Path),
) -> Result<(), Failure> {
    let graph = reader.graph();
    let root = crate::path::look_through(graph, reader.root());
    let Some(Node::Array(id)) = graph.get(root) else {
        return Err(Failure::Unrepresentable(format!(
            "{}: the graph's root is {}, not an array; a .npy holds one array \
             (use `amber extract FILE PATH -o OUT.npy`, or convert to .npz)",
            input.display(),
            with_article(graph.get(root).map_or("nothing", |n| n.kind_name()))
        )));
    };
    let out = files::create_output(output)?;
    npy::write(reader, fetcher, id, input, &out, "the root array")?;
    files::commit_output(out)
}

/// An Amber file being written from a foreign input: arrays stream in, named entries collect
/// for the root map in arrival order, and `commit` writes the graph and renames the file
/// into place.
struct AmberSink<'i> {
    input: &'i Path,
    writer: Writer<files::Output>,
    compression: Compression,
    entries: Vec<(String, Entry)>,
    single: Option<ArrayId>,
    bar: ProgressBar,
}

/// A value of the root map.
enum Entry {
    Array(ArrayId),
    Strings(Vec<(String, String)>),
}

impl<'i> AmberSink<'i> {
    fn create(
        input: &'i Path,
        output: &Path,
        store: &files::StoreArgs,
        options: WriteOptions,
    ) -> Result<Self, Failure> {
        let compression = options.compression;
        let writer = files::Output::create(output, store, options)?;
        Ok(AmberSink {
            input,
            writer,
            compression,
            entries: Vec::new(),
            single: None,
            bar: ProgressBar::hidden(),
        })
    }

    fn write_failure(&self, what: &str, error: amberfile::Error) -> Failure {
        if error.kind() == amberfile::ErrorKind::LengthMismatch {
            return Failure::invalid_input(
                self.input,
                format!("the data of {what} ends before its declared size"),
            );
        }
        match error.into_io_error() {
            Ok(source) if source.kind() == io::ErrorKind::InvalidData => {
                Failure::invalid_input(self.input, format!("{what}: {source}"))
            }
            Ok(source) => Failure::Io(format!("{}: {what}: {source}", self.input.display())),
            Err(other) => Failure::Unrepresentable(format!(
                "{}: {what} cannot be stored in Amber: {other}",
                self.input.display()
            )),
        }
    }

    fn commit(self) -> Result<(), Failure> {
        self.bar.finish_and_clear();
        let mut graph = Graph::new();
        let root = match self.single {
            Some(id) => graph.add(Node::Array(id)),
            None => {
                let mut pairs = Vec::with_capacity(self.entries.len());
                for (name, entry) in &self.entries {
                    let key = graph.add(Node::Str(name));
                    let value = match entry {
                        Entry::Array(id) => graph.add(Node::Array(*id)),
                        Entry::Strings(strings) => {
                            let strings: Vec<[amberfile::NodeId; 2]> = strings
                                .iter()
                                .map(|(k, v)| [graph.add(Node::Str(k)), graph.add(Node::Str(v))])
                                .collect();
                            graph.add(Node::Map(&strings))
                        }
                    };
                    pairs.push([key, value]);
                }
                graph.add(Node::Map(&pairs))
            }
        };
        graph.set_root(root);
        self.writer
            .finish(&graph)
            .and_then(files::Output::commit)
            .map_err(|e| Failure::Io(format!("writing the Amber file: {e}")))
    }
}

impl ArraySink for AmberSink<'_> {
    fn expect_bytes(&mut self, total: u64) {
        self.bar = files::progress(total, "convert");
    }

    /// `name` becomes a key of the root map; an unnamed array is the whole graph.
    fn add_array(&mut self, name: Option<&str>, spec: &ArraySpec, source: impl Read) -> Result<(), Failure> {
        let what = name.map_or_else(|| "the array".to_string(), |n| format!("array '{n}'"));
        let compression = self.compression;
        let counted = ProgressRead {
            inner: BoolCheck {
                inner: source,
                active: spec.dtype == DType::Bool,
            },
            bar: &self.bar,
        };
        let id = self
            .writer
            .write_array_from_reader(spec, counted, compression)
            .map_err(|e| self.write_failure(&what, e))?;
        match name {
            Some(name) => self.entries.push((name.to_owned(), Entry::Array(id))),
            None => self.single = Some(id),
        }
        Ok(())
    }

    /// An empty map is left out, so an empty `__metadata__` does not come back as one.
    fn add_strings(&mut self, name: &str, strings: Vec<(String, String)>) {
        if !strings.is_empty() {
            self.entries.push((name.to_owned(), Entry::Strings(strings)));
        }
    }
}

/// Refuses bool elements other than 0 and 1 (spec 13.6) while they stream through.
struct BoolCheck<R> {
    inner: R,
    active: bool,
}

impl<R: Read> Read for BoolCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.active && buf[..n].iter().any(|&b| b > 1) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a bool element is neither 0 nor 1",
            ));
        }
        Ok(n)
    }
}
