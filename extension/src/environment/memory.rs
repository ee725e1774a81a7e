//! `memory`: a block faultline allocates and touches page by page, so that it is resident and
//! counted in the function's memory, and frees when the experiment ends. A block this large is
//! its own mapping (glibc maps allocations above its mmap threshold), so freeing it gives the
//! pages back to the system at once.

const MIB: usize = 1024 * 1024;
const PAGE: usize = 4096;

/// The held memory, freed when dropped.
#[derive(Debug)]
pub struct Block {
    bytes: Vec<u8>,
}

impl Block {
    /// Allocates `mb` MiB and touches every page; None when the allocation is refused.
    pub fn hold(mb: u64) -> Option<Block> {
        let len = usize::try_from(mb).ok()?.checked_mul(MIB)?;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(len).ok()?;
        bytes.resize(len, 0);
        // calloc'd pages are mapped lazily: one write per page makes each resident.
        for page in bytes.chunks_mut(PAGE) {
            if let Some(first) = page.first_mut() {
                *first = 1;
            }
        }
        Some(Block { bytes })
    }

    /// MiB held.
    pub fn mb(&self) -> u64 {
        (self.bytes.len() / MIB) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    #[test]
    fn the_block_is_resident_while_held_and_given_back_after() {
        let before = rss_kib();
        let block = Block::hold(64).expect("64 MiB");
        assert_eq!(block.mb(), 64);
        let held = rss_kib();
        assert!(held >= before + 48 * 1024, "{before} -> {held} KiB");
        drop(block);
        let after = rss_kib();
        assert!(after + 48 * 1024 <= held, "{held} -> {after} KiB");
    }
}
