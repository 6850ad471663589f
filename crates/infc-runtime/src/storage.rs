//! Memory the session owns: the plan bytes (an mmap, or an aligned copy) and 64-byte aligned
//! arenas allocated fallibly (a huge arena is an error, not an abort).

use crate::RuntimeError;

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
pub(crate) struct Block([u8; 64]);

/// A zero-initialised, 64-byte aligned byte buffer.
pub(crate) struct AlignedBuf {
    blocks: Vec<Block>,
    len: usize,
}

impl AlignedBuf {
    pub fn try_zeroed(len: usize) -> Result<AlignedBuf, RuntimeError> {
        let n = len.div_ceil(64);
        let mut blocks = Vec::new();
        blocks
            .try_reserve_exact(n)
            .map_err(|_| RuntimeError::Alloc(len as u64))?;
        blocks.resize(n, Block([0; 64]));
        Ok(AlignedBuf { blocks, len })
    }
    pub fn copy_of(data: &[u8]) -> Result<AlignedBuf, RuntimeError> {
        let mut b = AlignedBuf::try_zeroed(data.len())?;
        b.bytes_mut().copy_from_slice(data);
        Ok(b)
    }
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<Block, u8>(&self.blocks)[..self.len]
    }
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<Block, u8>(&mut self.blocks)[..self.len]
    }
}

/// The plan file's bytes.
pub(crate) enum PlanBytes {
    Mapped(memmap2::Mmap),
    Owned(AlignedBuf),
}

impl PlanBytes {
    pub fn bytes(&self) -> &[u8] {
        match self {
            PlanBytes::Mapped(m) => m,
            PlanBytes::Owned(b) => b.bytes(),
        }
    }
}
