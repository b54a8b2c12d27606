//! Master first: of the processes holding a listener, signal those none of whose
//! ancestors also holds it (the master of a pre-forking server: nginx, gunicorn,
//! postgres, apache), then, once the master is gone, whichever holder is left. A master
//! that gets SIGTERM stops its workers in order; a worker killed first is only restarted
//! by its master.
//!
//! Pure: parents come from a lookup (`/proc` or sysinfo in use, a map in tests).

use std::collections::HashSet;

/// How far up a chain of parents is followed (a loop guard: a chain never repeats, but a
/// lookup answering from two moments of a changing process table might).
const MAX_DEPTH: usize = 4096;

/// The holders that have no other holder among their ancestors, sorted by pid: the ones
/// to signal first. Never empty when `holders` is not (a chain that loops counts as
/// having no holder above).
pub(crate) fn masters(holders: &[u32], parent_of: &dyn Fn(u32) -> Option<u32>) -> Vec<u32> {
    let set: HashSet<u32> = holders.iter().copied().collect();
    let mut out: Vec<u32> = set
        .iter()
        .copied()
        .filter(|&pid| !has_holder_above(pid, &set, parent_of))
        .collect();
    out.sort_unstable();
    if out.is_empty() {
        // Only a lookup that contradicts itself gets here; signal them all rather than none.
        out = set.into_iter().collect();
        out.sort_unstable();
    }
    out
}

/// Every holder in the order to signal them: masters first, then by their distance from
/// the nearest master above them, each level by pid.
pub(crate) fn master_first(holders: &[u32], parent_of: &dyn Fn(u32) -> Option<u32>) -> Vec<u32> {
    let set: HashSet<u32> = holders.iter().copied().collect();
    let mut ranked: Vec<(usize, u32)> = set
        .iter()
        .map(|&pid| (holders_above(pid, &set, parent_of), pid))
        .collect();
    ranked.sort_unstable();
    ranked.into_iter().map(|(_, pid)| pid).collect()
}

fn has_holder_above(pid: u32, set: &HashSet<u32>, parent_of: &dyn Fn(u32) -> Option<u32>) -> bool {
    holders_above(pid, set, parent_of) > 0
}

/// How many of `pid`'s ancestors hold the socket.
fn holders_above(pid: u32, set: &HashSet<u32>, parent_of: &dyn Fn(u32) -> Option<u32>) -> usize {
    let mut count = 0;
    let mut seen = HashSet::new();
    let mut at = pid;
    for _ in 0..MAX_DEPTH {
        match parent_of(at) {
            Some(parent) if parent != 0 && parent != at && seen.insert(parent) => {
                if set.contains(&parent) {
                    count += 1;
                }
                at = parent;
            }
            _ => break,
        }
    }
    if seen.contains(&pid) {
        // A loop through pid itself: no order can be read from it.
        return 0;
    }
    count
}

/// The ancestors of `pid`, its parent first, up to (and with) pid 1.
pub(crate) fn ancestors(pid: u32, parent_of: &dyn Fn(u32) -> Option<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    let mut at = pid;
    for _ in 0..MAX_DEPTH {
        match parent_of(at) {
            Some(parent) if parent != 0 && parent != pid && !out.contains(&parent) => {
                out.push(parent);
                at = parent;
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn tree(edges: &[(u32, u32)]) -> impl Fn(u32) -> Option<u32> {
        let map: HashMap<u32, u32> = edges.iter().copied().collect();
        move |pid| map.get(&pid).copied()
    }

    #[test]
    fn master_before_workers() {
        // 1 ─ 100 (shell) ─ 200 (master) ─┬ 201, 202 (workers)
        //                                 └ 203 ─ 204 (a worker's child)
        let parents = tree(&[
            (100, 1),
            (200, 100),
            (201, 200),
            (202, 200),
            (203, 200),
            (204, 203),
        ]);
        assert_eq!(masters(&[202, 201, 200, 204], &parents), vec![200]);
        assert_eq!(
            master_first(&[204, 202, 201, 200], &parents),
            vec![200, 201, 202, 204]
        );
        // The master gone: the workers are masters now (orphans, reparented or not).
        assert_eq!(masters(&[202, 201], &parents), vec![201, 202]);
        // A grandchild whose parent does not hold it still ranks below the master.
        assert_eq!(master_first(&[204, 200], &parents), vec![200, 204]);
    }

    #[test]
    fn unrelated_holders_are_all_masters() {
        let parents = tree(&[(10, 1), (20, 1), (30, 10)]);
        assert_eq!(masters(&[30, 20], &parents), vec![20, 30]);
        assert_eq!(masters(&[5], &|_| None), vec![5]);
        assert_eq!(masters(&[], &parents), Vec::<u32>::new());
    }

    #[test]
    fn loops_do_not_hang_or_empty() {
        let parents = tree(&[(10, 11), (11, 10)]);
        assert_eq!(masters(&[10, 11], &parents), vec![10, 11]);
        assert_eq!(master_first(&[11, 10], &parents), vec![10, 11]);
        let selfish = tree(&[(10, 10)]);
        assert_eq!(masters(&[10], &selfish), vec![10]);
    }

    #[test]
    fn ancestors_up_to_init() {
        let parents = tree(&[(500, 400), (400, 300), (300, 1), (1, 0)]);
        assert_eq!(ancestors(500, &parents), vec![400, 300, 1]);
        assert_eq!(ancestors(1, &parents), Vec::<u32>::new());
        assert_eq!(ancestors(7, &parents), Vec::<u32>::new());
        let looped = tree(&[(5, 6), (6, 5)]);
        assert_eq!(ancestors(5, &looped), vec![6]);
    }
}
