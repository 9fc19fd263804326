//! The global allocator: mimalloc, asked the cheapest way for each layout.
//!
//! The `mimalloc` crate hands every allocation to `mi_malloc_aligned`, whose fast path covers
//! blocks of up to 1 KiB; larger ones (Pingora's boxed request futures, header maps, buffers)
//! fall to its over-allocating path — about 16 per proxied request and ~3k instructions
//! (callgrind). mimalloc places every block of 16 bytes or more on a 16-byte boundary and a
//! smaller one on its own size class's, so a layout whose alignment is at most 16 and at most
//! its size is already met by plain `mi_malloc` (the rule Rust's `System` allocator uses for
//! `malloc`). Anything else still goes the aligned way.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use libmimalloc_sys as mi;

/// mimalloc's `MI_MAX_ALIGN_SIZE` on 64-bit targets.
const NATURAL_ALIGN: usize = 16;

pub struct Allocator;

#[inline]
fn natural(align: usize, size: usize) -> bool {
    align <= NATURAL_ALIGN && align <= size
}

// SAFETY: every path returns memory from mimalloc with at least the layout's alignment (see the
// module comment for why plain `mi_malloc` suffices when `natural` holds), and `mi_free` takes
// any pointer mimalloc returned, aligned or not.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if natural(layout.align(), layout.size()) {
            mi::mi_malloc(layout.size()) as *mut u8
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if natural(layout.align(), layout.size()) {
            mi::mi_zalloc(layout.size()) as *mut u8
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr as *mut c_void);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if natural(layout.align(), new_size) {
            mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
        } else {
            mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
        }
    }
}

/// Keep this process on 4 KiB pages. mimalloc asks the kernel for transparent huge pages on its
/// arenas, so each thread's first allocations fault in whole 2 MiB pages: the idle gateway held
/// 45 MB instead of 29 MB (an A/B of the two showed no throughput difference within its
/// noise). Called from an `.init_array` entry of the binary (`main.rs`), before the first
/// allocation.
pub fn small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size around the size classes, at every alignment up to a page: the address honours
    /// the alignment, the memory is writable, zeroed when asked, and survives growth.
    #[test]
    fn layouts_get_their_alignment() {
        let a = Allocator;
        for size in (1..=160).chain([255, 256, 1000, 1024, 1025, 2000, 4096, 5000, 70_000]) {
            for shift in 0..=12 {
                let layout = Layout::from_size_align(size, 1 << shift).unwrap();
                unsafe {
                    let p = a.alloc_zeroed(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % layout.align(), 0, "{layout:?}");
                    assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                    p.write_bytes(0xa5, size);
                    let q = a.realloc(p, layout, size * 3);
                    assert_eq!(q as usize % layout.align(), 0, "{layout:?} grown");
                    assert!(std::slice::from_raw_parts(q, size).iter().all(|&b| b == 0xa5));
                    a.dealloc(q, Layout::from_size_align(size * 3, layout.align()).unwrap());
                    let p = a.alloc(layout);
                    assert_eq!(p as usize % layout.align(), 0, "{layout:?}");
                    a.dealloc(p, layout);
                }
            }
        }
    }
}
