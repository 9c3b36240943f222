//! `amber extract FILE PATH -o OUT.npy`: one array out of the graph, into a .npy numpy reads.

use std::path::PathBuf;

use amberfile::Node;
use clap::Args;

use crate::failure::{with_article, Failure};
use crate::files;
use crate::foreign::npy;
use crate::path;

pub const EXTRACT_HELP: &str = concat!(
    "The array is written with numpy's own header layout: record dtypes become structured\n",
    "dtypes (unnamed '|V' entries stand for padding, as numpy writes them), Fortran-ordered\n",
    "arrays keep fortran_order: True, strings, datetimes, complex and float16 map to their\n",
    "numpy types. bfloat16 and float8 have no numpy type and are refused (convert to\n",
    ".safetensors instead).\n\n",
);

#[derive(Args)]
#[command(after_help = format!("{EXTRACT_HELP}{}\n\n{}", path::PATH_SYNTAX_HELP, super::EXIT_STATUS_HELP))]
pub struct ExtractArgs {
    /// The Amber file: a path, or a URL (s3://, gs://, az://, http(s)://, file://); of a
    /// remote file only the metadata and this array are fetched.
    file: PathBuf,
    /// Where the array is in the graph, e.g. `estimators_/3/tree_/nodes` (see below).
    path: String,
    /// The .npy file to write (replaced atomically if it exists).
    #[arg(short, long, value_name = "OUT.npy")]
    output: PathBuf,
}

pub fn run(args: &ExtractArgs, store: &files::StoreArgs) -> Result<(), Failure> {
    let opened = files::open_input(&args.file, store)?;
    files::with_reader!(&opened, |reader| extract(reader, opened.fetcher(), args))
}

fn extract<S: amberfile::ByteSource>(
    reader: &amberfile::Reader<S>,
    fetcher: files::Fetcher,
    args: &ExtractArgs,
) -> Result<(), Failure> {
    let graph = reader.graph();
    let node = path::resolve(graph, reader.root(), &args.path).map_err(Failure::Usage)?;
    let node = path::look_through(graph, node);
    let Some(Node::Array(id)) = graph.get(node) else {
        let kind = graph.get(node).map_or("nothing", |n| n.kind_name());
        return Err(Failure::Usage(format!(
            "path '{}' leads to {}, not an array (`amber inspect --json` lists the paths of arrays)",
            args.path,
            with_article(kind)
        )));
    };
    let output = files::create_output(&args.output)?;
    let what = format!("array '{}'", args.path);
    npy::write(reader, fetcher, id, &args.file, &output, &what)?;
    files::commit_output(output)
}
