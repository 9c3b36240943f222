//! Files built from a few arrays with the writer, and the ways tests reach their arrays again.

use amberfile::{
    ArrayId, ArraySpec, Compression, Graph, Node, NodeId, ReadOptions, Reader, Verify, WriteOptions, Writer,
};

/// The compression most tests use for a compressed array: zstd level 3 with byte shuffling.
pub const ZSTD: Compression = Compression::Zstd {
    level: 3,
    shuffle: true,
};

/// A graph whose root lists one array node per id, in order.
pub fn graph_of(ids: &[ArrayId]) -> Graph {
    let mut graph = Graph::new();
    let nodes: Vec<_> = ids.iter().map(|&id| graph.add(Node::Array(id))).collect();
    let root = graph.add(Node::List(&nodes));
    graph.set_root(root);
    graph
}

/// An object of `type_name` whose state maps these names to their nodes, the shape of a fitted
/// scikit-learn estimator. The key nodes are added after the values, then the map and the object.
pub fn object_with_state(graph: &mut Graph, type_name: &str, state: &[(&str, NodeId)]) -> NodeId {
    let entries: Vec<[NodeId; 2]> = state
        .iter()
        .map(|&(key, value)| [graph.add(Node::Str(key)), value])
        .collect();
    let state = graph.add(Node::Map(&entries));
    graph.add(Node::Object {
        type_name,
        args: None,
        state: Some(state),
    })
}

/// One file holding `arrays` (spec, bytes, storage) in order.
pub fn file_with(options: WriteOptions, arrays: &[(ArraySpec, Vec<u8>, Compression)]) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new(), options).unwrap();
    let ids: Vec<ArrayId> = arrays
        .iter()
        .map(|(spec, bytes, compression)| writer.write_array_with(spec, bytes, *compression).unwrap())
        .collect();
    writer.finish(&graph_of(&ids)).unwrap()
}

/// The little-endian bytes of `values`.
pub fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// The id of the `index`-th array of the array table.
pub fn array_id(reader: &Reader<impl AsRef<[u8]>>, index: usize) -> ArrayId {
    reader.arrays().nth(index).expect("array in file").id()
}

/// True if `ptr` points into the reader's file bytes, i.e. nothing was copied.
pub fn borrows_from_file<T>(reader: &Reader<impl AsRef<[u8]>>, ptr: *const T) -> bool {
    reader.bytes().as_ptr_range().contains(&ptr.cast())
}

/// The default read options with another verification policy.
pub fn read_options(verify: Verify) -> ReadOptions {
    ReadOptions {
        verify,
        ..ReadOptions::default()
    }
}

/// A node id that exists in a larger graph but not in the one it is used in.
pub fn dangling_node_id() -> NodeId {
    let mut other = Graph::new();
    for _ in 0..10 {
        other.add(Node::None);
    }
    other.add(Node::None)
}
