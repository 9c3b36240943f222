//! Encoding of the metadata section (spec section 6), in one pass and in spec order: the
//! metadata header, then the string, dtype, array and node tables, each in the file named after
//! it (mirrors `read/metadata/`).

mod arrays;
mod dtypes;
mod nodes;
mod strings;

pub(super) use arrays::{array_block_size, check_block_size_option, check_spec, WrittenArray};
pub(super) use dtypes::DTypeTable;

use super::encode::encode;
use crate::error::{Error, Result};
use crate::format::MetadataHeader;
use crate::graph::Graph;
use strings::Strings;

pub(super) fn encode_metadata(
    graph: &Graph,
    dtypes: &DTypeTable,
    arrays: &[WrittenArray],
) -> Result<Vec<u8>> {
    let strings = Strings::new(graph, dtypes);
    let count = |n: usize, what: &str| {
        u32::try_from(n).map_err(|_| Error::limit(None, format!("too many {what} for the format")))
    };
    let root = graph
        .root()
        .ok_or_else(|| Error::invalid_graph(None, "the graph has no root"))?;
    let header = MetadataHeader {
        string_count: count(strings.len(), "strings")?,
        dtype_count: count(dtypes.len(), "dtypes")?,
        array_count: count(arrays.len(), "arrays")?,
        node_count: count(graph.len(), "nodes")?,
        root: root.0,
    };
    let mut out = encode(&header);
    strings.encode(&mut out)?;
    dtypes.encode(&mut out, &strings)?;
    arrays::encode_array_table(&mut out, arrays)?;
    nodes::encode_node_table(&mut out, graph)?;
    Ok(out)
}
