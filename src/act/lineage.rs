//! Parent pids, for the master-first order and for whoport's own ancestors, through
//! sysinfo (`/proc/PID/stat` on Linux, `proc_pidinfo` on macOS). Read on demand, a few
//! pids at a time: never the whole process table.

use std::cell::RefCell;
use std::collections::HashMap;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Parents as they are now; answers are kept, so make a new one for a new look.
pub(crate) struct Parents {
    system: Option<RefCell<System>>,
    known: RefCell<HashMap<u32, Option<u32>>>,
}

impl Parents {
    pub(crate) fn new() -> Parents {
        Parents {
            system: System::new().ok().map(RefCell::new),
            known: RefCell::new(HashMap::new()),
        }
    }

    /// The parent of `pid`, or `None` when it exited or cannot be read.
    pub(crate) fn parent_of(&self, pid: u32) -> Option<u32> {
        if let Some(known) = self.known.borrow().get(&pid) {
            return *known;
        }
        let parent = self.system.as_ref().and_then(|system| {
            let mut system = system.borrow_mut();
            let wanted = [Pid::from_u32(pid)];
            system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&wanted),
                true,
                ProcessRefreshKind::nothing().without_tasks(),
            );
            system
                .process(Pid::from_u32(pid))
                .and_then(|p| p.parent())
                .map(|p| p.as_u32())
        });
        self.known.borrow_mut().insert(pid, parent);
        parent
    }
}

impl Default for Parents {
    fn default() -> Self {
        Parents::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_its_real_parent() {
        let parents = Parents::new();
        let me = std::process::id();
        assert_eq!(
            parents.parent_of(me),
            Some(rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32))
        );
        let line = crate::act::order::ancestors(me, &|p| parents.parent_of(p));
        assert!(!line.is_empty(), "a test process has a parent");
    }

    #[test]
    fn a_child_has_this_process_as_parent() -> std::io::Result<()> {
        let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
        let parent = Parents::new().parent_of(child.id());
        child.kill()?;
        child.wait()?;
        assert_eq!(parent, Some(std::process::id()));
        Ok(())
    }
}
