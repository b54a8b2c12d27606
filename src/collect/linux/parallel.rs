//! Work over many pids spread across the cores: each thread takes the next chunk of
//! pids as it finishes one (so one process with thousands of descriptors does not hold
//! the others up) and keeps its own state, which the caller merges.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The cores this process may run on (cgroup quotas included), looked up once: std reads
/// the cgroup's quota files every time it is asked.
pub(crate) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 16)
    })
}

/// Runs `work` on every item, `chunk` items at a time, on up to one thread per core, and
/// gives back each thread's state (made by `init`). With a single chunk, or a single core,
/// it runs on the calling thread alone.
pub(crate) fn for_each<T: Sync, S: Send>(
    items: &[T],
    chunk: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) + Sync,
) -> Vec<S> {
    for_each_on(cores(), items, chunk, init, work)
}

/// [`for_each`] on at most `threads` threads (the calling one included).
pub(crate) fn for_each_on<T: Sync, S: Send>(
    threads: usize,
    items: &[T],
    chunk: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) + Sync,
) -> Vec<S> {
    let chunk = chunk.max(1);
    let threads = threads.min(items.len().div_ceil(chunk)).max(1);
    let next = AtomicUsize::new(0);
    let run = || {
        let mut state = init();
        loop {
            let start = next.fetch_add(chunk, Ordering::Relaxed);
            let Some(part) = items.get(start..(start + chunk).min(items.len())) else {
                break;
            };
            if part.is_empty() {
                break;
            }
            for item in part {
                work(&mut state, item);
            }
        }
        state
    };
    if threads == 1 {
        return vec![run()];
    }
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(run)).collect();
        let mut states = vec![run()];
        // A panic in a helper goes on in the caller.
        for helper in helpers {
            match helper.join() {
                Ok(state) => states.push(state),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        states
    })
}

#[cfg(test)]
mod tests {
    use super::for_each;

    #[test]
    fn every_item_once() {
        for n in [0usize, 1, 15, 16, 17, 1000] {
            let items: Vec<usize> = (0..n).collect();
            let states = for_each(&items, 16, Vec::new, |seen: &mut Vec<usize>, &i| {
                seen.push(i)
            });
            let mut all: Vec<usize> = states.into_iter().flatten().collect();
            all.sort_unstable();
            assert_eq!(all, items);
        }
    }
}
