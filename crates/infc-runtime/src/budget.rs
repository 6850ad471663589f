//! The memory budget a session is held to, checked before anything sized by the plan is
//! allocated: the plan copy (when loading with [`PlanLoad::Copy`]), the arena (activations and
//! planned scratch) and the owned outputs of [`crate::Session::run`]. The default budget is the
//! machine's physical memory: on Linux with overcommit an allocation larger than that may
//! "succeed" and then take the process (or a neighbour) down when it is touched.

use crate::RuntimeError;

/// How a plan file's bytes are held by a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlanLoad {
    /// Map the file read-only (default): instant load, weights shared with the page cache and
    /// other processes mapping the same plan. A file truncated or overwritten in place while
    /// mapped makes the next access to a vanished page raise SIGBUS, which kills the process.
    /// Replacing the file by rename (the usual atomic deploy) is safe: the mapping keeps the old
    /// inode.
    #[default]
    Map,
    /// Read the whole file into 64-byte aligned memory at load (checked against the budget):
    /// costs the plan's size in private memory and a read at load, but later changes to the file
    /// cannot touch a running session. For libraries whose host must survive a botched deploy.
    Copy,
}

/// Total physical memory (Linux `/proc/meminfo`); `None` where it cannot be read.
pub fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A budget in bytes and where it came from (for error messages).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    pub bytes: u64,
    pub given: bool,
}

impl Budget {
    /// `max_memory` if given, else physical memory, else unlimited.
    pub fn resolve(max_memory: Option<u64>) -> Budget {
        match max_memory {
            Some(bytes) => Budget { bytes, given: true },
            None => Budget {
                bytes: physical_memory().unwrap_or(u64::MAX),
                given: false,
            },
        }
    }

    /// `Ok` if `used + more` bytes fit; else an error naming `what`.
    pub fn check(&self, used: u64, more: u64, what: &str) -> Result<(), RuntimeError> {
        let total = used.checked_add(more);
        if total.is_some_and(|t| t <= self.bytes) {
            return Ok(());
        }
        Err(RuntimeError::MemoryBudget {
            what: what.to_string(),
            bytes: more,
            used,
            budget: self.bytes,
            limit_from: if self.given {
                "max_memory"
            } else {
                "physical memory"
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(physical_memory().expect("MemTotal") > 1 << 26);
        }
    }

    #[test]
    fn budget_counts_what_is_already_used() {
        let b = Budget::resolve(Some(1000));
        b.check(0, 1000, "arena").unwrap();
        let e = b.check(600, 500, "arena").unwrap_err().to_string();
        assert!(
            e.contains("arena") && e.contains("500") && e.contains("1000"),
            "{e}"
        );
        assert!(
            b.check(1, u64::MAX, "x").is_err(),
            "an overflowing sum is over budget"
        );
    }
}
