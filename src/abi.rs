//! The vendor C ABI: every constant, enum, struct and typedef of
//! `rknn_api.h`, `rknn_matmul_api.h` and `rknn_custom_op.h` (v2.3.2), with
//! the vendor's exact names, values and layouts
//! (`reference/rknn-c-api.md` §2–§3).
//!
//! One submodule per vendor header; cbindgen reads each of them to generate
//! the matching header in `include/` (see `docs/abi.md`):
//!
//! * [`api`] → `rknn_api.h`
//! * [`matmul`] → `rknn_matmul_api.h`
//! * [`custom_op`] → `rknn_custom_op.h`
//!
//! Everything is re-exported here, so Rust code writes
//! `crate::abi::rknn_tensor_attr` or `crate::abi::RKNN_ERR_PARAM_INVALID`.
//!
//! # Enums
//!
//! Each C enum appears twice in Rust, on purpose:
//!
//! * a `#[repr(C)]` Rust enum named after the C tag (`_rknn_tensor_type`),
//!   which exists only so that cbindgen writes a real C enum into the header;
//!   Rust code never converts an integer into it;
//! * an integer typedef with the C typedef name (`rknn_tensor_type = u32`)
//!   plus one `pub const` per enumerator (`RKNN_TENSOR_INT8`), derived from
//!   the enum so the values exist once. Struct fields and function
//!   parameters use the integer typedef: a C caller may store any value
//!   there, and receiving an out-of-range value in a Rust enum would be
//!   undefined behaviour.
//!
//! # Zero initialisation
//!
//! Every struct implements [`bytemuck::Zeroable`] and `Default` (all
//! members 0 / NULL), so Rust code never needs `mem::zeroed`.
//!
//! # Layouts
//!
//! Every struct is `#[repr(C)]`, and compile-time asserts pin its size,
//! alignment and member offsets to the reference numbers: LP64 on 64-bit
//! targets, ILP32 (AAPCS32) on 32-bit ARM.

#![allow(non_camel_case_types, non_snake_case)]

/// Asserts at compile time the size, alignment and member offsets of a
/// `#[repr(C)]` struct.
macro_rules! assert_layout {
    ($t:ty, size $size:expr, align $align:expr $(, $field:tt @ $off:expr)* $(,)?) => {
        const _: () = {
            assert!(::core::mem::size_of::<$t>() == $size);
            assert!(::core::mem::align_of::<$t>() == $align);
            $(assert!(::core::mem::offset_of!($t, $field) == $off);)*
        };
    };
}

/// Defines, for each listed enumerator of the header-only C enum `$e`, a
/// Rust constant of the same name with the integer typedef `$t`.
macro_rules! enum_values {
    ($e:ident => $t:ident { $($v:ident),* $(,)? }) => {
        $(
            #[doc = concat!("`", stringify!($v), "` (C `enum ", stringify!($e), "`).")]
            pub const $v: $t = $e::$v as $t;
        )*
    };
}

/// Implements `Default` as all-zero (every member 0 / NULL), the way C code
/// initialises these structs with `memset` or `= {0}`.
macro_rules! zeroed_default {
    ($($t:ty),* $(,)?) => {
        $(
            impl Default for $t {
                fn default() -> Self {
                    ::bytemuck::Zeroable::zeroed()
                }
            }
        )*
    };
}

pub mod api;
pub mod custom_op;
pub mod matmul;

pub use api::*;
pub use custom_op::*;
pub use matmul::*;
