//! The rules a graph must keep to be written, and the big-int rule the reader applies too.
//!
//! The reader checks each rule as it parses the node table (it has offsets to report); the
//! writer checks a finished graph with [`Graph::validate`]. Both use [`is_canonical_big_int`].

use super::{Graph, Node};
use crate::error::{Error, Result};

/// True if `bytes` is the minimal two's-complement encoding of an integer outside i64, the only
/// form the spec allows for big ints.
pub(crate) fn is_canonical_big_int(bytes: &[u8]) -> bool {
    bytes.len() > 8 && !has_redundant_sign_byte(bytes)
}

/// The canonical big-int bytes of `v`, or `None` if `v` fits in i64 (an `Int` node then).
pub(crate) fn canonical_big_int(v: i128) -> Option<Vec<u8>> {
    if i64::try_from(v).is_ok() {
        return None;
    }
    let mut bytes = v.to_le_bytes().to_vec();
    // Outside i64 the minimal form has at least 9 bytes, so trimming stops before that.
    while has_redundant_sign_byte(&bytes) {
        bytes.pop();
    }
    Some(bytes)
}

/// True if the top byte is pure sign extension of the byte below it, so dropping it keeps the
/// value.
fn has_redundant_sign_byte(bytes: &[u8]) -> bool {
    let [.., below, last] = bytes else {
        return false;
    };
    (*last == 0x00 && below & 0x80 == 0) || (*last == 0xff && below & 0x80 != 0)
}

impl Graph {
    /// Checks what the writer needs: a root, child ids inside the graph, array ids below
    /// `array_count`, object-array item counts matching their shapes, and pools that fit the
    /// format's 32-bit counts.
    pub fn validate(&self, array_count: usize) -> Result<()> {
        let bad = |detail: String| Err(Error::invalid_graph(None, detail));
        let Some(root) = self.root() else {
            return bad("the graph has no root".into());
        };
        let n = self.len();
        // Nodes, strings and child lists have 32-bit counts and indices in the format.
        if self.storage.longest_pool() > u32::MAX as usize {
            return bad("the graph is too large for the format's 32-bit counts".into());
        }
        if root.index() >= n {
            return bad(format!("root {} is not a node of this graph", root.0));
        }
        for (id, node) in self.iter() {
            let i = id.index();
            if let Some(child) = self.children(id).find(|c| c.index() >= n) {
                return bad(format!("node {i} refers to missing node {}", child.0));
            }
            match node {
                Node::Array(a) if a.index() >= array_count => {
                    return bad(format!("node {i} refers to missing array {}", a.0));
                }
                Node::ObjectArray { shape, items, .. } => {
                    let count = crate::dtype::checked_nbytes(1, shape);
                    if shape.len() > crate::limits::MAX_NDIM || count != u64::try_from(items.len()).ok() {
                        return bad(format!("object array node {i}: shape does not match items"));
                    }
                }
                Node::BigInt(bytes) if !is_canonical_big_int(bytes) => {
                    return bad(format!(
                        "big int node {i} is not minimal two's complement outside i64"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{NodeId, Value};

    #[test]
    fn big_ints_must_be_minimal_and_outside_i64() {
        assert!(!is_canonical_big_int(&[1, 0, 0, 0, 0, 0, 0, 0]));
        assert!(is_canonical_big_int(&[0, 0, 0, 0, 0, 0, 0, 0x80, 0]));
        assert!(!is_canonical_big_int(&[0, 0, 0, 0, 0, 0, 0, 0x10, 0]));
        assert_eq!(
            Value::from_i128(-(1 << 64)),
            Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0, 0xff])
        );
    }

    #[test]
    fn canonical_big_int_leaves_i64_to_int_nodes() {
        assert_eq!(canonical_big_int(i64::MIN.into()), None);
        assert_eq!(canonical_big_int(i64::MAX.into()), None);
    }

    #[test]
    fn canonical_big_ints_pass_the_readers_rule() {
        for v in [
            i128::MAX,
            i128::MIN,
            1 << 63,
            -(1 << 63) - 1,
            1 << 100,
            -(1 << 71),
        ] {
            let bytes = canonical_big_int(v).unwrap();
            assert!(is_canonical_big_int(&bytes), "{v}: {bytes:?}");
        }
    }

    #[test]
    fn the_32_bit_bound_covers_string_text_and_child_lists_not_only_bytes() {
        // Past u32::MAX in any pool a span may have wrapped, so validate must see every pool.
        let mut g = Graph::new();
        let text = "x".repeat(3000);
        g.add(Node::Str(&text));
        assert_eq!(g.storage.longest_pool(), 3000);
        let children = vec![NodeId(0); 5000];
        g.add(Node::List(&children));
        assert_eq!(g.storage.longest_pool(), 5000);
    }

    #[test]
    fn validate_names_the_first_broken_rule() {
        let mut g = Graph::new();
        let list = g.add(Node::List(&[NodeId(5)]));
        assert_eq!(g.validate(0).unwrap_err().class(), "InvalidGraph");
        g.set_root(list);
        let err = g.validate(0).unwrap_err();
        assert!(err.to_string().contains("missing node 5"), "{err}");
    }
}
