//! The helper thread of a copying load: work that runs on the other core while the loading
//! thread builds Python objects (which it must do alone, holding the GIL). It moves work and
//! reports failures; it knows nothing of what the checks it runs are about:
//! - the CRC-32s of the small raw arrays the load will copy ([`arrays_to_check`]), last first,
//!   while the loader copies roughly in file order, so the two meet in the middle. A copy of an
//!   array the helper has checked is a plain copy; one it has not reached is checked as it is
//!   copied (`Reader::read_into`). The helper decides nothing here.
//! - checks of a file array's bytes that other modules submit ([`defer_array_check`]) while an
//!   object's state is set: the loader lends the state's arrays ([`lend_state_arrays`]), numpy
//!   copies no code has touched yet, so a check over the file's bytes of the same array sees
//!   exactly what the object gets. They run in the order submitted; the first that fails fails
//!   the load at its end, before the caller sees anything.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::mpsc;

use amberfile::{ArrayId, ByteSource, NodeId, Reader};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Raw arrays smaller than this are checked by the helper; bigger ones are checked on all
/// cores while they are copied.
const HELPER_MAX_ARRAY_BYTES: u64 = 8 << 20;

/// Below this many bytes of small arrays in all, starting a thread costs more than it saves.
const HELPER_MIN_TOTAL_BYTES: u64 = 1 << 20;

/// The small raw arrays a copying load of `root` reads, in file order, if there are enough of
/// them to be worth a helper thread and the file is in memory (the helper reads the file's
/// bytes in place); else none.
pub(crate) fn arrays_to_check<S: ByteSource>(reader: &Reader<S>, root: NodeId) -> Vec<ArrayId> {
    if reader.source().in_memory().is_none() {
        return Vec::new();
    }
    let mut arrays: Vec<(ArrayId, u64)> = reader
        .graph()
        .arrays_reachable(root)
        .into_iter()
        .filter_map(|id| {
            let info = reader.array_info(id).ok()?;
            (info.is_raw() && info.nbytes() < HELPER_MAX_ARRAY_BYTES).then_some((id, info.nbytes()))
        })
        .collect();
    arrays.sort_unstable_by_key(|(id, _)| id.index());
    let total: u64 = arrays.iter().map(|&(_, nbytes)| nbytes).sum();
    if arrays.len() < 2 || total < HELPER_MIN_TOTAL_BYTES {
        return Vec::new();
    }
    arrays.into_iter().map(|(id, _)| id).collect()
}

/// A check of one file array's bytes, run on the helper: `Err(message)` fails the load.
pub(crate) type ArrayCheck = Box<dyn FnOnce(&[u8]) -> Result<(), String> + Send>;

/// A submitted check, to run over the file's bytes of `array`.
struct Job {
    /// The object whose state holds the array (its error names it).
    owner: NodeId,
    array: ArrayId,
    check: ArrayCheck,
}

/// The running load's way to its helper, on the loading thread.
struct Helper {
    /// The arrays of the state being set ([`lend_state_arrays`]), by their Python object.
    state_arrays: HashMap<usize, ArrayId>,
    /// The object whose state is being set.
    state_owner: NodeId,
    jobs: mpsc::Sender<Job>,
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
/// that only its state holds, known by the file arrays they copy: a check of one of them can
/// then go to the helper. They are forgotten afterwards, before their addresses can be reused.
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

/// Queues `check` for the helper, to run over the file's bytes of the array `object` copies,
/// if `object` is one of the state arrays lent by the load running on this thread. Else hands
/// `check` back: the caller runs it now, over `object`'s own bytes.
pub(crate) fn defer_array_check(object: &Bound<'_, PyAny>, check: ArrayCheck) -> Option<ArrayCheck> {
    HELPER.with_borrow(|slot| {
        let Some(helper) = slot else {
            return Some(check);
        };
        let Some(&array) = helper.state_arrays.get(&(object.as_ptr() as usize)) else {
            return Some(check);
        };
        let job = Job {
            owner: helper.state_owner,
            array,
            check,
        };
        helper.jobs.send(job).err().map(|unsent| unsent.0.check)
    })
}

/// Runs `build` (the loader, on this thread) with a helper thread for `arrays` and for the
/// checks submitted meanwhile; without `arrays`, or if no thread can be started, `build` runs
/// alone and its checks run where they are submitted. A failed check becomes
/// `check_error(owner, the check's ValueError)`.
pub(crate) fn with_helper<S: ByteSource + Sync, R, F: FnOnce() -> PyResult<R>>(
    reader: &Reader<S>,
    arrays: &[ArrayId],
    check_error: impl FnOnce(NodeId, PyErr) -> PyErr,
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
        let failed_check = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match (built, failed_check) {
            (Ok(_), Some((owner, message))) => Err(check_error(owner, PyValueError::new_err(message))),
            (built, _) => built,
        }
    })
}

/// The helper thread: CRCs last array first, taking submitted checks as they come, then the
/// remaining checks until the loader closes the queue. Returns the first failed check's
/// message, with the object whose state held its array.
fn help<S: ByteSource>(
    reader: &Reader<S>,
    arrays: &[ArrayId],
    queue: &mpsc::Receiver<Job>,
) -> Option<(NodeId, String)> {
    let mut first_error = None;
    let mut run = |job: Job| {
        if first_error.is_none() {
            let checked = match reader.zero_copy_bytes(job.array) {
                Ok(bytes) => (job.check)(bytes),
                Err(e) => Err(e.to_string()),
            };
            first_error = checked.err().map(|message| (job.owner, message));
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
