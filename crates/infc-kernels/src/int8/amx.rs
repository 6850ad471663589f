//! Intel AMX-INT8 plumbing: whether this process may use the tile registers, and the tile
//! instructions themselves behind the [`Tiles`] trait (hardware via `asm!`, since Rust's AMX
//! intrinsics are unstable; a scalar emulation for tests, so the AMX kernel's addressing and
//! epilogue are checked on every machine, not only on one with AMX).
//!
//! Usable means: the CPU reports AMX-TILE and AMX-INT8 (CPUID leaf 7), the OS enables the tile
//! state in XCR0, and Linux grants this process the XTILEDATA permission
//! (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`; without it the first tile instruction
//! raises SIGILL). Anything else — another OS, a kernel before 5.16, a refused request — means
//! not usable, and the integer kernels fall back to AVX-512 VNNI.
//!
//! Every thread loads the one tile configuration this crate uses ([`TILE_CONFIG`]: palette 1,
//! all eight tiles 16 rows × 64 bytes) before its first tile instruction and keeps it.

/// Whether AMX-INT8 is usable by this process (checked and requested once).
pub(crate) fn usable() -> bool {
    static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *USABLE.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};
    let (max_leaf, leaf1) = (__cpuid(0).eax, __cpuid(1));
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    if max_leaf < 7 || !osxsave {
        return false;
    }
    let leaf7 = __cpuid_count(7, 0);
    let (amx_tile, amx_int8) = (leaf7.edx & (1 << 24) != 0, leaf7.edx & (1 << 25) != 0);
    if !(amx_tile && amx_int8) {
        return false;
    }
    // XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA): the OS manages the tile state.
    // SAFETY: OSXSAVE is set, so XGETBV is enabled.
    let xcr0 = unsafe { _xgetbv(0) };
    if xcr0 & (0b11 << 17) != 0b11 << 17 {
        return false;
    }
    const ARCH_GET_XCOMP_PERM: libc::c_long = 0x1022;
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these codes only reads its integer argument / writes the u64.
    unsafe {
        if libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) != 0
        {
            return false;
        }
        let mut granted: u64 = 0;
        let got = libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_GET_XCOMP_PERM,
            &mut granted as *mut u64,
        );
        got == 0 && granted & (1 << XFEATURE_XTILEDATA) != 0
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

/// Rows of every tile register (palette 1's maximum).
pub(crate) const TILE_ROWS: usize = 16;
/// Bytes per row of every tile register (palette 1's maximum).
pub(crate) const TILE_ROW_BYTES: usize = 64;

/// The 64-byte `ldtilecfg` operand: palette 1, start row 0, then for each of the eight tiles its
/// bytes per row (u16 at 16 + 2t) and rows (u8 at 48 + t).
#[repr(C, align(64))]
pub(crate) struct TileConfig(pub [u8; 64]);

pub(crate) static TILE_CONFIG: TileConfig = {
    let mut c = [0u8; 64];
    c[0] = 1;
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = TILE_ROW_BYTES as u8;
        c[48 + t] = TILE_ROWS as u8;
        t += 1;
    }
    TileConfig(c)
};

/// The tile operations the AMX kernel uses, on tile registers `0..8` named by const generics.
/// Tiles hold [`TILE_ROWS`] rows of [`TILE_ROW_BYTES`] bytes.
///
/// # Safety
/// Implementations read and write raw memory; callers pass pointers valid for the whole tile
/// (16 rows of 64 bytes at the given stride) and, for [`Hw`], have checked [`usable`].
pub(crate) trait Tiles {
    /// Makes sure this thread's tile configuration is [`TILE_CONFIG`].
    unsafe fn configure(&mut self);
    /// Tile `T` = 0.
    unsafe fn zero<const T: u8>(&mut self);
    /// Tile `T` = 16 rows of 64 bytes from `p`, `stride` bytes apart.
    unsafe fn load<const T: u8>(&mut self, p: *const u8, stride: usize);
    /// `C[m][n] += Σ_{k<16, i<4} A.u8[m][4k+i] · B.s8[k][4n+i]` in wrapping i32 (`tdpbusd`).
    unsafe fn dpbusd<const C: u8, const A: u8, const B: u8>(&mut self);
    /// Tile `T`'s 16 rows of 64 bytes to `p`, `stride` bytes apart.
    unsafe fn store<const T: u8>(&mut self, p: *mut u8, stride: usize);
}

/// The CPU's tile registers.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Hw;

#[cfg(target_arch = "x86_64")]
thread_local! {
    static CONFIGURED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(target_arch = "x86_64")]
impl Tiles for Hw {
    #[inline(always)]
    unsafe fn configure(&mut self) {
        if !CONFIGURED.get() {
            // SAFETY: the caller checked `usable`; the operand is a valid palette-1 config.
            unsafe {
                std::arch::asm!("ldtilecfg [{c}]", c = in(reg) TILE_CONFIG.0.as_ptr(),
                    options(nostack, readonly));
            }
            CONFIGURED.set(true);
        }
    }
    #[inline(always)]
    unsafe fn zero<const T: u8>(&mut self) {
        // SAFETY: a configured tile register.
        unsafe { std::arch::asm!("tilezero tmm{t}", t = const T, options(nostack, nomem)) };
    }
    #[inline(always)]
    unsafe fn load<const T: u8>(&mut self, p: *const u8, stride: usize) {
        // SAFETY: per the trait contract, 16 rows of 64 bytes at `stride` are readable.
        unsafe {
            std::arch::asm!("tileloadd tmm{t}, [{p} + {s}*1]", t = const T, p = in(reg) p,
                s = in(reg) stride, options(nostack, readonly));
        }
    }
    #[inline(always)]
    unsafe fn dpbusd<const C: u8, const A: u8, const B: u8>(&mut self) {
        // SAFETY: configured tile registers of matching shapes (all 16 × 64 bytes).
        unsafe {
            std::arch::asm!("tdpbusd tmm{c}, tmm{a}, tmm{b}", c = const C, a = const A,
                b = const B, options(nostack, nomem));
        }
    }
    #[inline(always)]
    unsafe fn store<const T: u8>(&mut self, p: *mut u8, stride: usize) {
        // SAFETY: per the trait contract, 16 rows of 64 bytes at `stride` are writable.
        unsafe {
            std::arch::asm!("tilestored [{p} + {s}*1], tmm{t}", t = const T, p = in(reg) p,
                s = in(reg) stride, options(nostack));
        }
    }
}

/// Scalar emulation of the eight tile registers (tests: the AMX kernel on machines without AMX).
#[cfg(test)]
pub(crate) struct Emulated(pub [[u8; TILE_ROWS * TILE_ROW_BYTES]; 8]);

#[cfg(test)]
impl Tiles for Emulated {
    unsafe fn configure(&mut self) {}
    unsafe fn zero<const T: u8>(&mut self) {
        self.0[T as usize] = [0; TILE_ROWS * TILE_ROW_BYTES];
    }
    unsafe fn load<const T: u8>(&mut self, p: *const u8, stride: usize) {
        for r in 0..TILE_ROWS {
            // SAFETY: per the trait contract.
            let row = unsafe { std::slice::from_raw_parts(p.add(r * stride), TILE_ROW_BYTES) };
            self.0[T as usize][r * TILE_ROW_BYTES..][..TILE_ROW_BYTES].copy_from_slice(row);
        }
    }
    unsafe fn dpbusd<const C: u8, const A: u8, const B: u8>(&mut self) {
        let (a, b) = (self.0[A as usize], self.0[B as usize]);
        let c = &mut self.0[C as usize];
        for m in 0..TILE_ROWS {
            for n in 0..TILE_ROW_BYTES / 4 {
                let at = m * TILE_ROW_BYTES + 4 * n;
                let mut acc = i32::from_le_bytes(c[at..at + 4].try_into().unwrap());
                for k in 0..TILE_ROWS {
                    for i in 0..4 {
                        let x = a[m * TILE_ROW_BYTES + 4 * k + i] as i32;
                        let y = b[k * TILE_ROW_BYTES + 4 * n + i] as i8 as i32;
                        acc = acc.wrapping_add(x * y);
                    }
                }
                c[at..at + 4].copy_from_slice(&acc.to_le_bytes());
            }
        }
    }
    unsafe fn store<const T: u8>(&mut self, p: *mut u8, stride: usize) {
        for r in 0..TILE_ROWS {
            let row = &self.0[T as usize][r * TILE_ROW_BYTES..][..TILE_ROW_BYTES];
            // SAFETY: per the trait contract.
            unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), p.add(r * stride), row.len()) };
        }
    }
}
