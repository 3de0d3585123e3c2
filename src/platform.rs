//! Per-platform parameters of the Rockchip NPUs this runtime targets.

use serde::{Deserialize, Serialize};

/// A target SoC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// RK3588 / RK3588S: three NPU cores.
    Rk3588,
    /// RK3576: two NPU cores.
    Rk3576,
    /// RK3566: one core (RKNPU lite).
    Rk3566,
    /// RK3568: one core (RKNPU lite).
    Rk3568,
    /// RK3562: one core.
    Rk3562,
}

impl Platform {
    /// Every supported platform.
    pub const ALL: [Platform; 5] = [
        Platform::Rk3588,
        Platform::Rk3576,
        Platform::Rk3566,
        Platform::Rk3568,
        Platform::Rk3562,
    ];

    /// Lower-case name as used by the vendor toolkit (`rk3588`).
    pub fn name(self) -> &'static str {
        match self {
            Platform::Rk3588 => "rk3588",
            Platform::Rk3576 => "rk3576",
            Platform::Rk3566 => "rk3566",
            Platform::Rk3568 => "rk3568",
            Platform::Rk3562 => "rk3562",
        }
    }

    /// Parses a platform name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Platform> {
        Platform::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The NPU family name shown in the init banner (`target:`).
    pub fn npu_name(self) -> &'static str {
        match self {
            Platform::Rk3588 => "RKNPU v2",
            Platform::Rk3576 => "RKNPU f2",
            Platform::Rk3566 | Platform::Rk3568 => "RKNPU lite",
            Platform::Rk3562 => "RKNPU t4",
        }
    }

    /// Number of NPU cores.
    pub fn cores(self) -> u32 {
        match self {
            Platform::Rk3588 => 3,
            Platform::Rk3576 => 2,
            _ => 1,
        }
    }

    /// C2 (channels per block) of the NC1HWC2 layout for an element size
    /// of 1 (int8) or 2 (fp16) bytes.
    pub fn c2(self, elem_size: usize) -> usize {
        match (self, elem_size) {
            (Platform::Rk3566 | Platform::Rk3568, 1) => 8,
            (Platform::Rk3566 | Platform::Rk3568, _) => 4,
            (_, 1) => 16,
            _ => 8,
        }
    }

    /// Width alignment (pixels) of zero-copy 4-D inputs with 1, 3 or 4
    /// channels.
    pub fn input_width_align(self) -> usize {
        match self {
            Platform::Rk3566 | Platform::Rk3568 => 8,
            _ => 16,
        }
    }

    /// Whether `mask` (an `rknn_core_mask` value) is valid here:
    /// `RKNN_NPU_CORE_AUTO` and `RKNN_NPU_CORE_ALL` everywhere multi-core
    /// control exists, otherwise a non-empty subset of the cores.
    pub fn core_mask_valid(self, mask: u32) -> bool {
        if self.cores() == 1 {
            return false;
        }
        let all = (1u32 << self.cores()) - 1;
        mask == 0 || mask == 0xffff || mask & !all == 0
    }
}
