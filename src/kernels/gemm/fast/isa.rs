//! Instruction-set selection for the GEMM micro-kernels: what the CPU
//! supports (detected once, cached by the standard library's feature
//! detection) and which kernel family a GEMM uses.

/// Kernel family for float GEMM (f32 accumulation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatIsa {
    /// Portable Rust, any target.
    Scalar,
    /// x86_64 AVX2 + FMA (+ F16C for fp16 operands).
    Avx2,
    /// x86_64 AVX-512F (+ F16C for fp16 operands).
    Avx512,
    /// aarch64 Advanced SIMD.
    Neon,
}

/// Kernel family for int8 GEMM (int32 accumulation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntIsa {
    /// Portable Rust, any target.
    Scalar,
    /// x86_64 AVX2: sign extension to 16 bits and `vpmaddwd`.
    Avx2,
    /// x86_64 AVX-512 VNNI: `vpdpbusd` on A + 128 with a column-sum
    /// correction.
    Avx512Vnni,
    /// aarch64 Advanced SIMD: `smull` + `sadalp`.
    Neon,
    /// aarch64 with the dot-product extension: `sdot`.
    NeonDot,
}

impl FloatIsa {
    /// Every float kernel family, best last.
    pub const ALL: [FloatIsa; 4] = [
        FloatIsa::Scalar,
        FloatIsa::Neon,
        FloatIsa::Avx2,
        FloatIsa::Avx512,
    ];

    /// True when this CPU can run the family.
    pub fn available(self) -> bool {
        match self {
            FloatIsa::Scalar => true,
            FloatIsa::Avx2 => x86_avx2(),
            FloatIsa::Avx512 => x86_avx512(),
            FloatIsa::Neon => arm_neon(),
        }
    }

    /// The fastest family this CPU supports.
    pub fn best() -> FloatIsa {
        FloatIsa::ALL
            .into_iter()
            .rev()
            .find(|i| i.available())
            .unwrap_or(FloatIsa::Scalar)
    }

    /// The families this CPU supports (for tests and benchmarks).
    pub fn supported() -> Vec<FloatIsa> {
        FloatIsa::ALL
            .into_iter()
            .filter(|i| i.available())
            .collect()
    }
}

impl IntIsa {
    /// Every int8 kernel family, best last.
    pub const ALL: [IntIsa; 5] = [
        IntIsa::Scalar,
        IntIsa::Neon,
        IntIsa::NeonDot,
        IntIsa::Avx2,
        IntIsa::Avx512Vnni,
    ];

    /// True when this CPU can run the family.
    pub fn available(self) -> bool {
        match self {
            IntIsa::Scalar => true,
            IntIsa::Avx2 => x86_avx2(),
            IntIsa::Avx512Vnni => x86_vnni(),
            IntIsa::Neon => arm_neon(),
            IntIsa::NeonDot => arm_dot(),
        }
    }

    /// The fastest family this CPU supports.
    pub fn best() -> IntIsa {
        IntIsa::ALL
            .into_iter()
            .rev()
            .find(|i| i.available())
            .unwrap_or(IntIsa::Scalar)
    }

    /// The families this CPU supports (for tests and benchmarks).
    pub fn supported() -> Vec<IntIsa> {
        IntIsa::ALL.into_iter().filter(|i| i.available()).collect()
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn x86_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn x86_avx512() -> bool {
    x86_avx2() && std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn x86_vnni() -> bool {
    x86_avx512()
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vnni")
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn x86_avx2() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn x86_avx512() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn x86_vnni() -> bool {
    false
}

#[cfg(target_arch = "aarch64")]
pub(crate) fn arm_neon() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

#[cfg(target_arch = "aarch64")]
pub(crate) fn arm_dot() -> bool {
    arm_neon() && std::arch::is_aarch64_feature_detected!("dotprod")
}

#[cfg(not(target_arch = "aarch64"))]
pub(crate) fn arm_neon() -> bool {
    false
}

#[cfg(not(target_arch = "aarch64"))]
pub(crate) fn arm_dot() -> bool {
    false
}
