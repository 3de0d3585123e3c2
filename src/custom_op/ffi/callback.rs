//! The application's callbacks and the per-instance state they receive.

use core::ffi::c_int;

use crate::abi::{rknn_custom_op_context, rknn_custom_op_tensor};

/// `init`, `prepare`, `compute` (and the unused `compute_native`).
pub type OpFn = unsafe extern "C" fn(
    *mut rknn_custom_op_context,
    *mut rknn_custom_op_tensor,
    u32,
    *mut rknn_custom_op_tensor,
    u32,
) -> c_int;

/// `destroy`.
pub type DestroyFn = unsafe extern "C" fn(*mut rknn_custom_op_context) -> c_int;

/// The callbacks of one registered op (`compute` is required).
#[derive(Clone, Copy, Debug)]
pub struct Callbacks {
    /// Called once per node when the op is registered.
    pub init: Option<OpFn>,
    /// Called before every `compute`.
    pub prepare: Option<OpFn>,
    /// Computes the node.
    pub compute: OpFn,
    /// Called once per initialised node when the context is destroyed.
    pub destroy: Option<DestroyFn>,
}

/// The state one node's callbacks see: the `rknn_custom_op_context`
/// (whose `priv_data` belongs to the application) and the input and
/// output tensor descriptions.
///
/// The structs live in boxes so their addresses stay fixed between calls:
/// an application may keep a pointer to its context.
#[derive(Debug)]
pub struct CallState {
    /// The op context.
    pub ctx: Box<rknn_custom_op_context>,
    /// Input tensors.
    pub inputs: Box<[rknn_custom_op_tensor]>,
    /// Output tensors.
    pub outputs: Box<[rknn_custom_op_tensor]>,
}

// SAFETY: the raw pointers inside (`priv_data`, OpenCL handles, tensor
// addresses) are opaque values handed back only to the application's
// callbacks, which the C API runs on whichever thread calls
// `rknn_register_custom_ops`, `rknn_run` or `rknn_destroy` (the vendor
// contract); this crate never dereferences them itself.
unsafe impl Send for CallState {}
// SAFETY: see `Send`; shared references only read plain fields.
unsafe impl Sync for CallState {}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl CallState {
    /// Calls `f` (`init`, `prepare` or `compute`) with this state.
    pub fn call(&mut self, f: OpFn) -> c_int {
        let (n_in, n_out) = (count(self.inputs.len()), count(self.outputs.len()));
        // SAFETY: `f` is a callback the application registered with the
        // vendor signature. Every pointer is valid for the call: the
        // context box, and `n_in`/`n_out` tensor structs in their boxes
        // (the counts are the slice lengths, which fit u32 because graph
        // arity is bounded by the node limits). The tensor memory they
        // describe was checked to lie inside this context's buffers.
        unsafe {
            f(
                &mut *self.ctx,
                self.inputs.as_mut_ptr(),
                n_in,
                self.outputs.as_mut_ptr(),
                n_out,
            )
        }
    }

    /// Calls the `destroy` callback `f` with this state's context.
    pub fn destroy(&mut self, f: DestroyFn) -> c_int {
        // SAFETY: `f` is the application's `destroy` callback with the
        // vendor signature; the context box is valid for the call.
        unsafe { f(&mut *self.ctx) }
    }
}
