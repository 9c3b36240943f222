//! `amber extract FILE PATH -o OUT.npy`: one array out of the graph, into a .npy numpy reads.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use amberfile::{ArrayId, Node, Reader};
use clap::Args;

use crate::failure::Failure;
use crate::files::{self, AtomicOutput};
use crate::npy::{self, NpyHeader};
use crate::path;

pub const EXTRACT_HELP: &str = concat!(
    "The array is written with numpy's own header layout: record dtypes become structured\n",
    "dtypes (unnamed '|V' entries stand for padding, as numpy writes them), Fortran-ordered\n",
    "arrays keep fortran_order: True, strings, datetimes, complex and float16 map to their\n",
    "numpy types. bfloat16 and float8 have no numpy type and are refused (convert to\n",
    ".safetensors instead).\n\n",
);

#[derive(Args)]
#[command(after_help = format!("{EXTRACT_HELP}{}\n\n{}", path::PATH_SYNTAX_HELP, crate::EXIT_STATUS_HELP))]
pub struct ExtractArgs {
    /// The Amber file.
    file: PathBuf,
    /// Where the array is in the graph, e.g. `estimators_/3/tree_/nodes` (see below).
    path: String,
    /// The .npy file to write (replaced atomically if it exists).
    #[arg(short, long, value_name = "OUT.npy")]
    output: PathBuf,
}

pub fn run(args: &ExtractArgs) -> Result<(), Failure> {
    let reader = files::open_amber(&args.file)?;
    let graph = reader.graph();
    let node = path::resolve(graph, reader.root(), &args.path).map_err(Failure::Usage)?;
    let node = path::look_through(graph, node);
    let Some(Node::Array(id)) = graph.get(node) else {
        let kind = graph.get(node).map_or("nothing", |n| n.kind_name());
        return Err(Failure::Usage(format!(
            "path '{}' leads to {}, not an array (`amber inspect --json` lists the paths of arrays)",
            args.path,
            crate::failure::with_article(kind)
        )));
    };
    let output = AtomicOutput::create(&args.output)?;
    let what = format!("array '{}'", args.path);
    write_npy(&reader, id, &args.file, &output, &what)?;
    output.commit()
}

/// Writes array `id` as a complete .npy file to `output`'s temporary file.
pub fn write_npy<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    id: ArrayId,
    source: &Path,
    output: &AtomicOutput,
    what: &str,
) -> Result<(), Failure> {
    let mut sink = BufWriter::with_capacity(1 << 20, output.handle());
    write_npy_to(reader, id, &mut sink, what, (source, output.target()))?;
    sink.flush().map_err(|e| Failure::io(output.target(), e))
}

/// Writes the header and the array's logical bytes to `sink`, in bounded memory. `files` are
/// the Amber file (named in errors about its content) and the output (named in I/O errors).
pub fn write_npy_to<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    id: ArrayId,
    sink: &mut impl Write,
    what: &str,
    (source, target): (&Path, &Path),
) -> Result<(), Failure> {
    let info = reader.array_info(id).map_err(|e| Failure::amber(source, e))?;
    let header = NpyHeader {
        dtype: info.dtype().clone(),
        shape: info.shape().to_vec(),
        order: info.order(),
    };
    npy::check_header_len(&header)
        .map_err(|why| Failure::OverLimit(format!("{what} cannot be written to .npy: {why}")))?;
    let encoded = npy::encode_header(&header)
        .map_err(|why| Failure::Unrepresentable(format!("{what} cannot be written to .npy: {why}")))?;
    sink.write_all(&encoded).map_err(|e| Failure::io(target, e))?;
    let bar = files::progress(info.nbytes(), "extract");
    let streamed = files::stream_array(reader, id, sink, &bar, (source, target));
    bar.finish_and_clear();
    streamed
}
