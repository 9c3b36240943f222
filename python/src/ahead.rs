//! Work a copying load hands to a helper thread, so that it runs on the other core while the
//! loading thread builds Python objects (which it must do alone, holding the GIL):
//! - the CRC-32s of the small raw arrays the load will copy ([`arrays_to_check`]), last first,
//!   while the loader copies roughly in file order, so the two meet in the middle. A copy of an
//!   array the helper has checked is a plain copy; one it has not reached is checked as it is
//!   copied (`Reader::read_into`). The helper decides nothing here; it only moves work.
//! - the node check of scikit-learn trees ([`defer_tree_check`]), over the file's bytes of an
//!   array that only the tree's state refers to, so those bytes are exactly what the tree gets.
//!   A failure fails the load at its end, before the caller sees anything. No trusted type walks
//!   a tree's nodes while the file is being loaded; only prediction does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::mpsc;

use amberfile::{ArrayId, NodeId, Reader};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::checks::{tree_nodes_error, NodeLayout};

/// Raw arrays smaller than this are checked by the helper; bigger ones are checked on all
/// cores while they are copied.
const HELPER_MAX_ARRAY_BYTES: u64 = 8 << 20;

/// Below this many bytes of small arrays in all, starting a thread costs more than it saves.
const HELPER_MIN_TOTAL_BYTES: u64 = 1 << 20;

/// The small raw arrays a copying load of `root` reads (the root and nodes with `uses`), in
/// file order, if there are enough of them to be worth a helper thread; else none.
pub(crate) fn arrays_to_check<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    uses: &[u32],
    root: NodeId,
) -> Vec<ArrayId> {
    let mut arrays: Vec<(ArrayId, u64)> = reader
        .graph()
        .iter()
        .filter(|&(id, _)| uses[id.index()] > 0 || id == root)
        .filter_map(|(_, node)| node.as_array())
        .filter_map(|id| {
            let info = reader.array_info(id).ok()?;
            (info.is_raw() && info.nbytes() < HELPER_MAX_ARRAY_BYTES).then_some((id, info.nbytes()))
        })
        .collect();
    arrays.sort_unstable_by_key(|(id, _)| id.index());
    arrays.dedup();
    let total: u64 = arrays.iter().map(|&(_, nbytes)| nbytes).sum();
    if arrays.len() < 2 || total < HELPER_MIN_TOTAL_BYTES {
        return Vec::new();
    }
    arrays.into_iter().map(|(id, _)| id).collect()
}

/// A tree's node check, to run over the file's bytes of `array`.
struct TreeJob {
    /// The object whose state holds the tree (its error names it).
    owner: NodeId,
    array: ArrayId,
    layout: NodeLayout,
    n_features: i64,
}

/// The running load's way to its helper, on the loading thread.
struct Helper {
    /// The arrays of the state being set ([`lend_state_arrays`]), by their Python object.
    state_arrays: HashMap<usize, ArrayId>,
    /// The object whose state is being set.
    state_owner: NodeId,
    jobs: mpsc::Sender<TreeJob>,
}

thread_local! {
    static HELPER: RefCell<Option<Helper>> = const { RefCell::new(None) };
}

/// Installs a load's helper (or none) on this thread for the length of its build; dropping it
/// (also when unwinding) puts back any outer load's and closes the job queue, which lets the
/// helper finish. A load without a helper installs none, so that a load nested in another
/// (run by some `__setstate__` meanwhile) never hands its arrays to the outer load's helper.
struct Installed(Option<Helper>);

impl Installed {
    fn new(helper: Option<Helper>) -> Self {
        Installed(HELPER.with_borrow_mut(|slot| std::mem::replace(slot, helper)))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let outer = self.0.take();
        HELPER.with_borrow_mut(|slot| *slot = outer);
    }
}

/// Whether the load running on this thread has a helper.
pub(crate) fn has_helper() -> bool {
    HELPER.with_borrow(Option::is_some)
}

/// Runs `set_state` (an instance's `__setstate__` and its validator) with `arrays`, numpy copies
/// that only its state holds, known by the file arrays they copy: a tree check of one of them
/// can then go to the helper. They are forgotten afterwards, before their addresses can be
/// reused.
pub(crate) fn lend_state_arrays<R>(
    owner: NodeId,
    arrays: Vec<(Bound<'_, PyAny>, ArrayId)>,
    set_state: impl FnOnce() -> R,
) -> R {
    if arrays.is_empty() {
        return set_state();
    }
    HELPER.with_borrow_mut(|slot| {
        if let Some(helper) = slot {
            let lent = arrays
                .iter()
                .map(|(object, array)| (object.as_ptr() as usize, *array));
            helper.state_arrays.extend(lent);
            helper.state_owner = owner;
        }
    });
    let result = set_state();
    HELPER.with_borrow_mut(|slot| {
        if let Some(helper) = slot {
            helper.state_arrays.clear();
        }
    });
    drop(arrays); // held until here: while lent, the addresses are theirs
    result
}

/// Queues the node check of `nodes` for the helper, if `nodes` is one of the state arrays lent
/// by the load running on this thread. False: the caller checks it now.
pub(crate) fn defer_tree_check(nodes: &Bound<'_, PyAny>, layout: NodeLayout, n_features: i64) -> bool {
    HELPER.with_borrow(|slot| {
        let Some(helper) = slot else { return false };
        let Some(&array) = helper.state_arrays.get(&(nodes.as_ptr() as usize)) else {
            return false;
        };
        helper
            .jobs
            .send(TreeJob {
                owner: helper.state_owner,
                array,
                layout,
                n_features,
            })
            .is_ok()
    })
}

/// Runs `build` (the loader, on this thread) with a helper thread for `arrays` and for tree
/// checks; without `arrays`, or if no thread can be started, `build` runs alone and checks
/// everything itself. A failed tree check becomes `tree_error(owner, the check's ValueError)`.
pub(crate) fn with_helper<S: AsRef<[u8]> + Sync, R, F: FnOnce() -> PyResult<R>>(
    reader: &Reader<S>,
    arrays: &[ArrayId],
    tree_error: impl FnOnce(NodeId, PyErr) -> PyErr,
    build: F,
) -> PyResult<R> {
    let alone = |build: F| {
        let _none = Installed::new(None);
        build()
    };
    if arrays.is_empty() {
        return alone(build);
    }
    std::thread::scope(|scope| {
        let (jobs, queue) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("amber-load-helper".into())
            .spawn_scoped(scope, move || help(reader, arrays, &queue));
        let Ok(helper) = spawned else {
            return alone(build);
        };
        let built = {
            let _installed = Installed::new(Some(Helper {
                state_arrays: HashMap::new(),
                state_owner: NodeId::default(),
                jobs,
            }));
            build()
        };
        let failed_tree = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match (built, failed_tree) {
            (Ok(_), Some((owner, message))) => Err(tree_error(owner, PyValueError::new_err(message))),
            (built, _) => built,
        }
    })
}

/// The helper thread: CRCs last array first, taking tree jobs as they come, then the
/// remaining jobs until the loader closes the queue. Returns the first tree's error, with
/// the object whose state held the tree.
fn help<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    arrays: &[ArrayId],
    queue: &mpsc::Receiver<TreeJob>,
) -> Option<(NodeId, String)> {
    let mut first_error = None;
    let mut run = |job: TreeJob| {
        if first_error.is_none() {
            let error = match reader.zero_copy_bytes(job.array) {
                Ok(bytes) => tree_nodes_error(bytes, job.layout, job.n_features),
                Err(e) => Some(e.to_string()),
            };
            first_error = error.map(|message| (job.owner, message));
        }
    };
    for &array in arrays.iter().rev() {
        loop {
            match queue.try_recv() {
                Ok(job) => run(job),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return first_error,
            }
        }
        if reader.is_verified(array) {
            break; // the loader has come this far
        }
        // A mismatch is left for the copy to report, with the loader's context.
        let _ = reader.verify_array(array);
    }
    queue.iter().for_each(run);
    first_error
}
