//! Secret bytes in locked memory: each [`LockedBytes`] is its own anonymous mapping, `mlock`ed so it
//! never reaches swap, marked `MADV_DONTDUMP` so it stays out of core dumps, zeroized and unmapped
//! on drop, and printed by `Debug` as a length only.
//!
//! One mapping per value (a page for a typical exchange secret) rather than a shared arena: a
//! forgotten secret's page is returned to the kernel at once, so nothing of it lingers in a
//! free list for a later `/proc/PID/mem` reader to find.

use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

use zeroize::Zeroize;

static MLOCK_FAILED: AtomicBool = AtomicBool::new(false);

static MLOCK_WARNED: AtomicBool = AtomicBool::new(false);

/// True once any `mlock` was refused (RLIMIT_MEMLOCK too small): secrets may then reach swap.
pub fn mlock_failed() -> bool {
    MLOCK_FAILED.load(Ordering::Relaxed)
}

/// True the first time it is called after an `mlock` failed, so the agent warns once.
pub fn take_mlock_warning() -> bool {
    mlock_failed() && !MLOCK_WARNED.swap(true, Ordering::Relaxed)
}

/// The soft RLIMIT_MEMLOCK in bytes (`None`: unlimited).
pub fn memlock_limit() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) } != 0
        || r.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(r.rlim_cur)
}

/// Overwrites the stack below the caller with zeros. Signing code (HMAC key set-up) leaves copies
/// of key material in stack frames that are popped but not cleared; the agent calls this after
/// each operation on a secret, from the same thread, so the next reader of its memory finds
/// nothing there.
#[inline(never)]
pub fn wipe_stack() {
    // One memset the optimizer must keep (black_box may read the buffer). `Zeroize` on a byte
    // array writes byte by byte (volatile): 8 KiB of that was ~3 us, a fifth of a signature.
    let mut buf = std::mem::MaybeUninit::<[u8; STACK_WIPE]>::uninit();
    // SAFETY: writes STACK_WIPE zero bytes into the buffer's own STACK_WIPE bytes.
    unsafe { std::ptr::write_bytes(buf.as_mut_ptr().cast::<u8>(), 0, STACK_WIPE) };
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    std::hint::black_box(&buf);
}

/// How much stack below the caller [`wipe_stack`] clears: far more than the HMAC, SHA-2 and
/// signature code use (their frames hold a few hundred bytes of key schedule).
const STACK_WIPE: usize = 8 * 1024;

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// Owned secret bytes in their own locked, non-dumpable mapping.
pub struct LockedBytes {
    ptr: NonNull<u8>,
    len: usize,
    mapped: usize,
}

// SAFETY: LockedBytes owns its mapping exclusively (like a Box<[u8]>); nothing aliases it.
unsafe impl Send for LockedBytes {}
// SAFETY: shared access is read-only through `as_slice`.
unsafe impl Sync for LockedBytes {}

impl LockedBytes {
    /// Copies `bytes` into a fresh locked mapping. The caller zeroizes its own copy.
    pub fn new(bytes: &[u8]) -> Self {
        let page = page_size();
        let mapped = bytes.len().max(1).div_ceil(page) * page;
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            // Out of address space: nothing sensible can continue.
            panic!("mmap of {mapped} bytes for a secret failed");
        }
        // SAFETY: addr..addr+mapped is the mapping just created.
        unsafe {
            libc::madvise(addr, mapped, libc::MADV_DONTDUMP);
            if libc::mlock(addr, mapped) != 0 {
                MLOCK_FAILED.store(true, Ordering::Relaxed);
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len());
        }
        Self {
            // SAFETY: mmap never returns null on success.
            ptr: unsafe { NonNull::new_unchecked(addr as *mut u8) },
            len: bytes.len(),
            mapped,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is valid for `len` initialised bytes for the life of self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for LockedBytes {
    fn drop(&mut self) {
        // SAFETY: we own the mapping; it is zeroized before being unlocked and returned.
        unsafe {
            let all = std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.mapped);
            all.zeroize();
            libc::munlock(self.ptr.as_ptr() as *mut libc::c_void, self.mapped);
            libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.mapped);
        }
    }
}

impl fmt::Debug for LockedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockedBytes(<redacted, {} bytes>)", self.len)
    }
}

/// Whether `a` and `b` are the same bytes, compared without an early exit, so that the time
/// taken says nothing about where they differ (a passphrase's hash, a MAC).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_bytes_and_debug_redacts_them() {
        let s = LockedBytes::new(b"hunter2-secret");
        assert_eq!(s.as_slice(), b"hunter2-secret");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("14 bytes"));
    }

    #[test]
    fn spans_several_pages() {
        let big = vec![7u8; 10_000];
        let s = LockedBytes::new(&big);
        assert_eq!(s.as_slice(), &big[..]);
        assert!(LockedBytes::new(b"").is_empty());
    }
}
