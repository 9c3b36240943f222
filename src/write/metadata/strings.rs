//! The string table (spec 6.3): every string once (spec 13.3), in the order the graph made them,
//! then the record field names the graph lacks.

use std::collections::HashMap;

use super::dtypes::DTypeTable;
use crate::dtype::DType;
use crate::error::Result;
use crate::graph::Graph;
use crate::write::encode::put_len;

/// The string table as it will be written, and each string's index in it.
pub(super) struct Strings<'g> {
    strings: Vec<&'g str>,
    index: HashMap<&'g str, u32>,
}

impl<'g> Strings<'g> {
    /// The graph's string table as it is, plus record field names it lacks.
    pub(super) fn new(graph: &'g Graph, dtypes: &'g DTypeTable) -> Self {
        let mut strings: Vec<&str> = graph.strings().collect();
        let mut string_index: HashMap<&str, u32> = HashMap::with_capacity(strings.len());
        for (i, s) in strings.iter().enumerate() {
            string_index.entry(s).or_insert(i as u32);
        }
        for dtype in dtypes.iter() {
            if let DType::Record(record) = dtype {
                for field in &record.fields {
                    if !string_index.contains_key(&*field.name) {
                        string_index.insert(&field.name, strings.len() as u32);
                        strings.push(&field.name);
                    }
                }
            }
        }
        Strings {
            strings,
            index: string_index,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.strings.len()
    }

    /// The index of a string the table holds (every record field name does).
    pub(super) fn index_of(&self, string: &str) -> u32 {
        self.index[string]
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        for s in &self.strings {
            put_len(out, s.len())?;
            out.extend_from_slice(s.as_bytes());
        }
        Ok(())
    }
}
