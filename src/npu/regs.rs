//! The NPU register map, defined once (DESIGN.md rule 8).
//!
//! Every register of the blocks a regcmd stream can reach (PC, CNA, CORE,
//! DPU, DPU_RDMA, PPU, PPU_RDMA) with its offset and named bit fields, in
//! one table. Names, offsets and field positions follow the public
//! register database of Mesa's `rocket` driver (`registers.xml`, facts
//! restated in `reference/rknpu-driver.md` §3); reserved fields are left
//! out. Two registers the vendor streams (and Mesa) write without a
//! documented meaning are listed as `UNNAMED_xxxx`.
//!
//! The virtual NPU decodes regcmd words through [`register`] and reads
//! fields with [`Field::get`]; a program builder encodes with [`encode`]
//! and [`Field::put`]. An offset that is not in the table is unknown
//! (`register` returns `None`) and the simulator refuses the word.

use std::fmt;

/// A functional block of one NPU core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Block {
    /// Program control: fetches regcmd streams, interrupts, task counter.
    Pc,
    /// Convolution DMA: feature and weight fetch, CBUF, input conversion.
    Cna,
    /// MAC array and accumulator.
    Core,
    /// Data processing unit: bias/scale, batch-norm, element-wise, LUT,
    /// output conversion and write.
    Dpu,
    /// DPU read DMA: operands from memory (flying input, bias, eltwise).
    DpuRdma,
    /// Planar processing unit: pooling.
    Ppu,
    /// PPU read DMA.
    PpuRdma,
}

impl Block {
    /// Every block a regcmd stream can address, in offset order.
    pub const ALL: [Block; 7] = [
        Block::Pc,
        Block::Cna,
        Block::Core,
        Block::Dpu,
        Block::DpuRdma,
        Block::Ppu,
        Block::PpuRdma,
    ];

    /// The block's name as in the register database.
    pub fn name(self) -> &'static str {
        match self {
            Block::Pc => "PC",
            Block::Cna => "CNA",
            Block::Core => "CORE",
            Block::Dpu => "DPU",
            Block::DpuRdma => "DPU_RDMA",
            Block::Ppu => "PPU",
            Block::PpuRdma => "PPU_RDMA",
        }
    }

    /// First register offset of the block (each block spans 0x1000 bytes).
    pub fn base(self) -> u16 {
        match self {
            Block::Pc => 0x0000,
            Block::Cna => 0x1000,
            Block::Core => 0x3000,
            Block::Dpu => 0x4000,
            Block::DpuRdma => 0x5000,
            Block::Ppu => 0x6000,
            Block::PpuRdma => 0x7000,
        }
    }

    /// The regcmd target field (bits 63..48 of a word) that addresses the
    /// block: the block's id with bit 0 set.
    pub fn target(self) -> u16 {
        match self {
            Block::Pc => 0x0101,
            Block::Cna => 0x0201,
            Block::Core => 0x0801,
            Block::Dpu => 0x1001,
            Block::DpuRdma => 0x2001,
            Block::Ppu => 0x4001,
            Block::PpuRdma => 0x8001,
        }
    }

    /// The block's bit in the op-enable mask (the tail's last word, the
    /// task record's `enable_mask`); the PC has none.
    pub fn op_enable_bit(self) -> Option<u32> {
        match self {
            Block::Pc => None,
            Block::Cna => Some(1 << 0),
            Block::Core => Some(1 << 2),
            Block::Dpu => Some(1 << 3),
            Block::DpuRdma => Some(1 << 4),
            Block::Ppu => Some(1 << 5),
            Block::PpuRdma => Some(1 << 6),
        }
    }

    /// The block addressed by a regcmd target field.
    pub fn from_target(target: u16) -> Option<Block> {
        Block::ALL.into_iter().find(|b| b.target() == target)
    }

    /// The block whose offset range holds `offset`.
    pub fn of_offset(offset: u16) -> Option<Block> {
        Block::ALL
            .into_iter()
            .find(|b| offset >> 12 == b.base() >> 12)
    }

    /// The block's registers, sorted by offset.
    pub fn registers(self) -> &'static [Reg] {
        match self {
            Block::Pc => pc::REGISTERS,
            Block::Cna => cna::REGISTERS,
            Block::Core => core::REGISTERS,
            Block::Dpu => dpu::REGISTERS,
            Block::DpuRdma => dpu_rdma::REGISTERS,
            Block::Ppu => ppu::REGISTERS,
            Block::PpuRdma => ppu_rdma::REGISTERS,
        }
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A bit field of a register: bits `low ..= high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Name as in the register database.
    pub name: &'static str,
    /// Lowest bit.
    pub low: u8,
    /// Highest bit (inclusive).
    pub high: u8,
}

impl Field {
    /// A field of bits `low ..= high`.
    pub const fn new(name: &'static str, low: u8, high: u8) -> Field {
        Field { name, low, high }
    }

    /// The field's bits in place (e.g. `0xF0` for bits 4..=7).
    pub const fn mask(self) -> u32 {
        let width = self.high - self.low + 1;
        let ones = if width >= 32 {
            u32::MAX
        } else {
            (1u32 << width) - 1
        };
        ones << self.low
    }

    /// The largest value the field holds.
    pub const fn max(self) -> u32 {
        self.mask() >> self.low
    }

    /// The field's value in a register value.
    pub const fn get(self, reg: u32) -> u32 {
        (reg & self.mask()) >> self.low
    }

    /// `value` placed in the field, or `None` when it does not fit.
    pub const fn put(self, value: u32) -> Option<u32> {
        if value > self.max() {
            None
        } else {
            Some(value << self.low)
        }
    }
}

/// One 32-bit register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg {
    /// The block it belongs to.
    pub block: Block,
    /// Offset inside the core's register window (e.g. `0x100C`).
    pub offset: u16,
    /// Name as in the register database.
    pub name: &'static str,
    /// Its named fields, highest bits first.
    pub fields: &'static [Field],
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{} ({:#06x})", self.block, self.name, self.offset)
    }
}

/// The register at `offset`, or `None` when the table does not know it.
pub fn register(offset: u16) -> Option<&'static Reg> {
    let regs = Block::of_offset(offset)?.registers();
    regs.binary_search_by_key(&offset, |r| r.offset)
        .ok()
        .map(|i| &regs[i])
}

/// The special regcmd word that must precede the op-enable word
/// (`0x0041` in bits 63..48, everything else zero).
pub const PREPARE_WORD: u64 = 0x0041_0000_0000_0000;
/// Target field of the op-enable word: sets every enabled block's
/// `OPERATION_ENABLE` at once; its register field is [`OP_ENABLE_OFFSET`]
/// and its value the block mask ([`Block::op_enable_bit`]).
pub const OP_ENABLE_TARGET: u16 = 0x0081;
/// Register field of the op-enable word.
pub const OP_ENABLE_OFFSET: u16 = 0x0008;
/// Target field of the prepare word.
pub const PREPARE_TARGET: u16 = 0x0041;

/// One regcmd word writing `value` to `reg`:
/// `target << 48 | value << 16 | offset`.
pub fn encode(reg: &Reg, value: u32) -> u64 {
    (u64::from(reg.block.target()) << 48) | (u64::from(value) << 16) | u64::from(reg.offset)
}

/// The op-enable word for the block mask `mask`.
pub fn op_enable_word(mask: u32) -> u64 {
    (u64::from(OP_ENABLE_TARGET) << 48) | (u64::from(mask) << 16) | u64::from(OP_ENABLE_OFFSET)
}

/// A regcmd word split into its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    /// Bits 63..48: block target or special code.
    pub target: u16,
    /// Bits 47..16: the value.
    pub value: u32,
    /// Bits 15..0: the register offset.
    pub offset: u16,
}

impl Word {
    /// Splits a regcmd word.
    pub fn decode(word: u64) -> Word {
        Word {
            target: (word >> 48) as u16,
            value: (word >> 16) as u32,
            offset: word as u16,
        }
    }
}

macro_rules! register_blocks {
    ($(
        $(#[$bdoc:meta])*
        $block:ident $bmod:ident {
            $( $off:literal $reg:ident $rmod:ident [ $( $field:ident $lo:literal $hi:literal ),* $(,)? ] )*
        }
    )*) => {
        $(
            $(#[$bdoc])*
            pub mod $bmod {
                use super::{Block, Reg};
                $(
                    #[doc = concat!("`", stringify!($reg), "` (offset ", stringify!($off), ").")]
                    pub const $reg: Reg = Reg {
                        block: Block::$block,
                        offset: $off,
                        name: stringify!($reg),
                        fields: $rmod::FIELDS,
                    };
                    #[doc = concat!("Fields of `", stringify!($reg), "`.")]
                    pub mod $rmod {
                        use super::super::Field;
                        $(
                            #[doc = concat!("Bits ", stringify!($lo), "..=", stringify!($hi), ".")]
                            pub const $field: Field = Field::new(stringify!($field), $lo, $hi);
                        )*
                        /// Every named field, highest bits first.
                        pub const FIELDS: &[Field] = &[$($field),*];
                    }
                )*
                /// The block's registers, sorted by offset.
                pub const REGISTERS: &[Reg] = &[$($reg),*];
            }
        )*
    };
}

register_blocks! {
    /// PC: program control.
    Pc pc {
        0x0000 VERSION version [VERSION 0 31]
        0x0004 VERSION_NUM version_num [VERSION_NUM 0 31]
        0x0008 OPERATION_ENABLE operation_enable [OP_EN 0 0]
        0x0010 BASE_ADDRESS base_address [PC_SOURCE_ADDR 4 31, PC_SEL 0 0]
        0x0014 REGISTER_AMOUNTS register_amounts [PC_DATA_AMOUNT 0 15]
        0x0020 INTERRUPT_MASK interrupt_mask [INT 0 13]
        0x0024 INTERRUPT_CLEAR interrupt_clear [INT 0 13]
        0x0028 INTERRUPT_STATUS interrupt_status [INT 0 13]
        0x002C INTERRUPT_RAW_STATUS interrupt_raw_status [INT 0 13]
        0x0030 TASK_CON task_con [TASK_COUNT_CLEAR 13 13, TASK_PP_EN 12 12, TASK_NUMBER 0 11]
        0x0034 TASK_DMA_BASE_ADDR task_dma_base_addr [DMA_BASE_ADDR 4 31]
        0x003C TASK_STATUS task_status [TASK_STATUS 0 27]
    }

    /// CNA: convolution DMA (feature/weight fetch, CBUF, input conversion).
    Cna cna {
        0x1000 S_STATUS s_status [STATUS_1 16 17, STATUS_0 0 1]
        0x1004 S_POINTER s_pointer [EXECUTER 16 16, EXECUTER_PP_CLEAR 5 5, POINTER_PP_CLEAR 4 4,
            POINTER_PP_MODE 3 3, EXECUTER_PP_EN 2 2, POINTER_PP_EN 1 1, POINTER 0 0]
        0x1008 OPERATION_ENABLE operation_enable [OP_EN 0 0]
        0x100C CONV_CON1 conv_con1 [NONALIGN_DMA 30 30, GROUP_LINE_OFF 29 29, DECONV 16 16,
            ARGB_IN 12 15, PROC_PRECISION 7 9, IN_PRECISION 4 6, CONV_MODE 0 3]
        0x1010 CONV_CON2 conv_con2 [KERNEL_GROUP 16 23, FEATURE_GRAINS 4 13, CSC_WO_EN 2 2,
            CSC_DO_EN 1 1, CMD_FIFO_SRST 0 0]
        0x1014 CONV_CON3 conv_con3 [NN_MODE 28 30, ATROUS_Y_DILATION 21 25,
            ATROUS_X_DILATION 16 20, DECONV_Y_STRIDE 11 13, DECONV_X_STRIDE 8 10,
            CONV_Y_STRIDE 3 5, CONV_X_STRIDE 0 2]
        0x1020 DATA_SIZE0 data_size0 [DATAIN_WIDTH 16 26, DATAIN_HEIGHT 0 10]
        0x1024 DATA_SIZE1 data_size1 [DATAIN_CHANNEL_REAL 16 29, DATAIN_CHANNEL 0 15]
        0x1028 DATA_SIZE2 data_size2 [DATAOUT_WIDTH 0 10]
        0x102C DATA_SIZE3 data_size3 [SURF_MODE 22 23, DATAOUT_ATOMICS 0 21]
        0x1030 WEIGHT_SIZE0 weight_size0 [WEIGHT_BYTES 0 31]
        0x1034 WEIGHT_SIZE1 weight_size1 [WEIGHT_BYTES_PER_KERNEL 0 18]
        0x1038 WEIGHT_SIZE2 weight_size2 [WEIGHT_WIDTH 24 28, WEIGHT_HEIGHT 16 20,
            WEIGHT_KERNELS 0 13]
        0x1040 CBUF_CON0 cbuf_con0 [WEIGHT_REUSE 13 13, DATA_REUSE 12 12, FC_DATA_BANK 8 10,
            WEIGHT_BANK 4 7, DATA_BANK 0 3]
        0x1044 CBUF_CON1 cbuf_con1 [DATA_ENTRIES 0 13]
        0x104C CVT_CON0 cvt_con0 [CVT_TRUNCATE_3 22 27, CVT_TRUNCATE_2 16 21,
            CVT_TRUNCATE_1 10 15, CVT_TRUNCATE_0 4 9, DATA_SIGN 3 3, ROUND_TYPE 2 2,
            CVT_TYPE 1 1, CVT_BYPASS 0 0]
        0x1050 CVT_CON1 cvt_con1 [CVT_SCALE0 16 31, CVT_OFFSET0 0 15]
        0x1054 CVT_CON2 cvt_con2 [CVT_SCALE1 16 31, CVT_OFFSET1 0 15]
        0x1058 CVT_CON3 cvt_con3 [CVT_SCALE2 16 31, CVT_OFFSET2 0 15]
        0x105C CVT_CON4 cvt_con4 [CVT_SCALE3 16 31, CVT_OFFSET3 0 15]
        0x1060 FC_CON0 fc_con0 [FC_SKIP_DATA 16 31, FC_SKIP_EN 0 0]
        0x1064 FC_CON1 fc_con1 [DATA_OFFSET 0 16]
        0x1068 PAD_CON0 pad_con0 [PAD_LEFT 4 7, PAD_TOP 0 3]
        0x1070 FEATURE_DATA_ADDR feature_data_addr [FEATURE_BASE_ADDR 0 31]
        0x1074 FC_CON2 fc_con2 [WEIGHT_OFFSET 0 16]
        0x1078 DMA_CON0 dma_con0 [OV4K_BYPASS 31 31, WEIGHT_BURST_LEN 16 19, DATA_BURST_LEN 0 3]
        0x107C DMA_CON1 dma_con1 [LINE_STRIDE 0 27]
        0x1080 DMA_CON2 dma_con2 [SURF_STRIDE 0 27]
        0x1084 FC_DATA_SIZE0 fc_data_size0 [DMA_WIDTH 16 29, DMA_HEIGHT 0 10]
        0x1088 FC_DATA_SIZE1 fc_data_size1 [DMA_CHANNEL 0 15]
        0x1090 CLK_GATE clk_gate [CBUF_CS_DISABLE_CLKGATE 4 4, CSC_DISABLE_CLKGATE 2 2,
            CNA_WEIGHT_DISABLE_CLKGATE 1 1, CNA_FEATURE_DISABLE_CLKGATE 0 0]
        0x1100 DCOMP_CTRL dcomp_ctrl [WT_DEC_BYPASS 3 3, DECOMP_CONTROL 0 2]
        0x1104 DCOMP_REGNUM dcomp_regnum [DCOMP_REGNUM 0 31]
        0x1110 DCOMP_ADDR0 dcomp_addr0 [DECOMPRESS_ADDR0 0 31]
        0x1140 DCOMP_AMOUNT0 dcomp_amount0 [DCOMP_AMOUNT0 0 31]
        0x1144 DCOMP_AMOUNT1 dcomp_amount1 [DCOMP_AMOUNT1 0 31]
        0x1148 DCOMP_AMOUNT2 dcomp_amount2 [DCOMP_AMOUNT2 0 31]
        0x114C DCOMP_AMOUNT3 dcomp_amount3 [DCOMP_AMOUNT3 0 31]
        0x1150 DCOMP_AMOUNT4 dcomp_amount4 [DCOMP_AMOUNT4 0 31]
        0x1154 DCOMP_AMOUNT5 dcomp_amount5 [DCOMP_AMOUNT5 0 31]
        0x1158 DCOMP_AMOUNT6 dcomp_amount6 [DCOMP_AMOUNT6 0 31]
        0x115C DCOMP_AMOUNT7 dcomp_amount7 [DCOMP_AMOUNT7 0 31]
        0x1160 DCOMP_AMOUNT8 dcomp_amount8 [DCOMP_AMOUNT8 0 31]
        0x1164 DCOMP_AMOUNT9 dcomp_amount9 [DCOMP_AMOUNT9 0 31]
        0x1168 DCOMP_AMOUNT10 dcomp_amount10 [DCOMP_AMOUNT10 0 31]
        0x116C DCOMP_AMOUNT11 dcomp_amount11 [DCOMP_AMOUNT11 0 31]
        0x1170 DCOMP_AMOUNT12 dcomp_amount12 [DCOMP_AMOUNT12 0 31]
        0x1174 DCOMP_AMOUNT13 dcomp_amount13 [DCOMP_AMOUNT13 0 31]
        0x1178 DCOMP_AMOUNT14 dcomp_amount14 [DCOMP_AMOUNT14 0 31]
        0x117C DCOMP_AMOUNT15 dcomp_amount15 [DCOMP_AMOUNT15 0 31]
        0x1180 CVT_CON5 cvt_con5 [PER_CHANNEL_CVT_EN 0 31]
        0x1184 PAD_CON1 pad_con1 [PAD_VALUE 0 31]
    }

    /// CORE: the MAC array and accumulator.
    Core core {
        0x3000 S_STATUS s_status [STATUS_1 16 17, STATUS_0 0 1]
        0x3004 S_POINTER s_pointer [EXECUTER 16 16, EXECUTER_PP_CLEAR 5 5, POINTER_PP_CLEAR 4 4,
            POINTER_PP_MODE 3 3, EXECUTER_PP_EN 2 2, POINTER_PP_EN 1 1, POINTER 0 0]
        0x3008 OPERATION_ENABLE operation_enable [OP_EN 0 0]
        0x300C MAC_GATING mac_gating [SLCG_OP_EN 0 26]
        0x3010 MISC_CFG misc_cfg [SOFT_GATING 14 19, PROC_PRECISION 8 10, DW_EN 1 1, QD_EN 0 0]
        0x3014 DATAOUT_SIZE_0 dataout_size_0 [DATAOUT_HEIGHT 16 31, DATAOUT_WIDTH 0 15]
        0x3018 DATAOUT_SIZE_1 dataout_size_1 [DATAOUT_CHANNEL 0 15]
        0x301C CLIP_TRUNCATE clip_truncate [ROUND_TYPE 6 6, CLIP_TRUNCATE 0 4]
        0x3030 UNNAMED_3030 unnamed_3030 [VALUE 0 31]
    }

    /// DPU: bias/scale, batch-norm, element-wise, LUT, output conversion.
    Dpu dpu {
        0x4000 S_STATUS s_status [STATUS_1 16 17, STATUS_0 0 1]
        0x4004 S_POINTER s_pointer [EXECUTER 16 16, EXECUTER_PP_CLEAR 5 5, POINTER_PP_CLEAR 4 4,
            POINTER_PP_MODE 3 3, EXECUTER_PP_EN 2 2, POINTER_PP_EN 1 1, POINTER 0 0]
        0x4008 OPERATION_ENABLE operation_enable [OP_EN 0 0]
        0x400C FEATURE_MODE_CFG feature_mode_cfg [COMB_USE 31 31, TP_EN 30 30, RGP_TYPE 26 29,
            NONALIGN 25 25, SURF_LEN 9 24, BURST_LEN 5 8, CONV_MODE 3 4, OUTPUT_MODE 1 2,
            FLYING_MODE 0 0]
        0x4010 DATA_FORMAT data_format [OUT_PRECISION 29 31, IN_PRECISION 26 28,
            EW_TRUNCATE_NEG 16 25, BN_MUL_SHIFT_VALUE_NEG 10 15, BS_MUL_SHIFT_VALUE_NEG 4 9,
            MC_SURF_OUT 3 3, PROC_PRECISION 0 2]
        0x4014 OFFSET_PEND offset_pend [OFFSET_PEND 0 15]
        0x4020 DST_BASE_ADDR dst_base_addr [DST_BASE_ADDR 0 31]
        0x4024 DST_SURF_STRIDE dst_surf_stride [DST_SURF_STRIDE 4 31]
        0x4030 DATA_CUBE_WIDTH data_cube_width [WIDTH 0 12]
        0x4034 DATA_CUBE_HEIGHT data_cube_height [MINMAX_CTL 22 24, HEIGHT 0 12]
        0x4038 DATA_CUBE_NOTCH_ADDR data_cube_notch_addr [NOTCH_ADDR_1 16 28, NOTCH_ADDR_0 0 12]
        0x403C DATA_CUBE_CHANNEL data_cube_channel [ORIG_CHANNEL 16 28, CHANNEL 0 12]
        0x4040 BS_CFG bs_cfg [BS_ALU_ALGO 16 19, BS_ALU_SRC 8 8, BS_RELUX_EN 7 7,
            BS_RELU_BYPASS 6 6, BS_MUL_PRELU 5 5, BS_MUL_BYPASS 4 4, BS_ALU_BYPASS 1 1,
            BS_BYPASS 0 0]
        0x4044 BS_ALU_CFG bs_alu_cfg [BS_ALU_OPERAND 0 31]
        0x4048 BS_MUL_CFG bs_mul_cfg [BS_MUL_OPERAND 16 31, BS_MUL_SHIFT_VALUE 8 13,
            BS_TRUNCATE_SRC 1 1, BS_MUL_SRC 0 0]
        0x404C BS_RELUX_CMP_VALUE bs_relux_cmp_value [BS_RELUX_CMP_DAT 0 31]
        0x4050 BS_OW_CFG bs_ow_cfg [RGP_CNTER 28 31, TP_ORG_EN 27 27, SIZE_E_2 8 10,
            SIZE_E_1 5 7, SIZE_E_0 2 4, OD_BYPASS 1 1, OW_SRC 0 0]
        0x4054 BS_OW_OP bs_ow_op [OW_OP 0 15]
        0x4058 WDMA_SIZE_0 wdma_size_0 [TP_PRECISION 27 27, SIZE_C_WDMA 16 26, CHANNEL_WDMA 0 12]
        0x405C WDMA_SIZE_1 wdma_size_1 [HEIGHT_WDMA 16 28, WIDTH_WDMA 0 12]
        0x4060 BN_CFG bn_cfg [BN_ALU_ALGO 16 19, BN_ALU_SRC 8 8, BN_RELUX_EN 7 7,
            BN_RELU_BYPASS 6 6, BN_MUL_PRELU 5 5, BN_MUL_BYPASS 4 4, BN_ALU_BYPASS 1 1,
            BN_BYPASS 0 0]
        0x4064 BN_ALU_CFG bn_alu_cfg [BN_ALU_OPERAND 0 31]
        0x4068 BN_MUL_CFG bn_mul_cfg [BN_MUL_OPERAND 16 31, BN_MUL_SHIFT_VALUE 8 13,
            BN_TRUNCATE_SRC 1 1, BN_MUL_SRC 0 0]
        0x406C BN_RELUX_CMP_VALUE bn_relux_cmp_value [BN_RELUX_CMP_DAT 0 31]
        0x4070 EW_CFG ew_cfg [EW_CVT_TYPE 31 31, EW_CVT_ROUND 30 30, EW_DATA_MODE 28 29,
            EDATA_SIZE 22 23, EW_EQUAL_EN 21 21, EW_BINARY_EN 20 20, EW_ALU_ALGO 16 19,
            EW_RELUX_EN 10 10, EW_RELU_BYPASS 9 9, EW_OP_CVT_BYPASS 8 8, EW_LUT_BYPASS 7 7,
            EW_OP_SRC 6 6, EW_MUL_PRELU 5 5, EW_OP_TYPE 2 2, EW_OP_BYPASS 1 1, EW_BYPASS 0 0]
        0x4074 EW_CVT_OFFSET_VALUE ew_cvt_offset_value [EW_OP_CVT_OFFSET 0 31]
        0x4078 EW_CVT_SCALE_VALUE ew_cvt_scale_value [EW_TRUNCATE 22 31, EW_OP_CVT_SHIFT 16 21,
            EW_OP_CVT_SCALE 0 15]
        0x407C EW_RELUX_CMP_VALUE ew_relux_cmp_value [EW_RELUX_CMP_DAT 0 31]
        0x4080 OUT_CVT_OFFSET out_cvt_offset [OUT_CVT_OFFSET 0 31]
        0x4084 OUT_CVT_SCALE out_cvt_scale [FP32TOFP16_EN 16 16, OUT_CVT_SCALE 0 15]
        0x4088 OUT_CVT_SHIFT out_cvt_shift [CVT_TYPE 31 31, CVT_ROUND 30 30, MINUS_EXP 12 19,
            OUT_CVT_SHIFT 0 11]
        0x4090 EW_OP_VALUE_0 ew_op_value_0 [EW_OPERAND_0 0 31]
        0x4094 EW_OP_VALUE_1 ew_op_value_1 [EW_OPERAND_1 0 31]
        0x4098 EW_OP_VALUE_2 ew_op_value_2 [EW_OPERAND_2 0 31]
        0x409C EW_OP_VALUE_3 ew_op_value_3 [EW_OPERAND_3 0 31]
        0x40A0 EW_OP_VALUE_4 ew_op_value_4 [EW_OPERAND_4 0 31]
        0x40A4 EW_OP_VALUE_5 ew_op_value_5 [EW_OPERAND_5 0 31]
        0x40A8 EW_OP_VALUE_6 ew_op_value_6 [EW_OPERAND_6 0 31]
        0x40AC EW_OP_VALUE_7 ew_op_value_7 [EW_OPERAND_7 0 31]
        0x40C0 SURFACE_ADD surface_add [SURF_ADD 4 31]
        0x40C4 UNNAMED_40C4 unnamed_40c4 [VALUE 0 31]
        0x4100 LUT_ACCESS_CFG lut_access_cfg [LUT_ACCESS_TYPE 17 17, LUT_TABLE_ID 16 16,
            LUT_ADDR 0 9]
        0x4104 LUT_ACCESS_DATA lut_access_data [LUT_ACCESS_DATA 0 15]
        0x4108 LUT_CFG lut_cfg [LUT_CAL_SEL 7 7, LUT_HYBRID_PRIORITY 6 6, LUT_OFLOW_PRIORITY 5 5,
            LUT_UFLOW_PRIORITY 4 4, LUT_LO_LE_MUX 2 3, LUT_EXPAND_EN 1 1, LUT_ROAD_SEL 0 0]
        0x410C LUT_INFO lut_info [LUT_LO_INDEX_SELECT 16 23, LUT_LE_INDEX_SELECT 8 15]
        0x4110 LUT_LE_START lut_le_start [LUT_LE_START 0 31]
        0x4114 LUT_LE_END lut_le_end [LUT_LE_END 0 31]
        0x4118 LUT_LO_START lut_lo_start [LUT_LO_START 0 31]
        0x411C LUT_LO_END lut_lo_end [LUT_LO_END 0 31]
        0x4120 LUT_LE_SLOPE_SCALE lut_le_slope_scale [LUT_LE_SLOPE_OFLOW_SCALE 16 31,
            LUT_LE_SLOPE_UFLOW_SCALE 0 15]
        0x4124 LUT_LE_SLOPE_SHIFT lut_le_slope_shift [LUT_LE_SLOPE_OFLOW_SHIFT 5 9,
            LUT_LE_SLOPE_UFLOW_SHIFT 0 4]
        0x4128 LUT_LO_SLOPE_SCALE lut_lo_slope_scale [LUT_LO_SLOPE_OFLOW_SCALE 16 31,
            LUT_LO_SLOPE_UFLOW_SCALE 0 15]
        0x412C LUT_LO_SLOPE_SHIFT lut_lo_slope_shift [LUT_LO_SLOPE_OFLOW_SHIFT 5 9,
            LUT_LO_SLOPE_UFLOW_SHIFT 0 4]
    }

    /// DPU_RDMA: the DPU's operand reads.
    DpuRdma dpu_rdma {
        0x5000 S_STATUS s_status [STATUS_1 16 17, STATUS_0 0 1]
        0x5004 S_POINTER s_pointer [EXECUTER 16 16, EXECUTER_PP_CLEAR 5 5, POINTER_PP_CLEAR 4 4,
            POINTER_PP_MODE 3 3, EXECUTER_PP_EN 2 2, POINTER_PP_EN 1 1, POINTER 0 0]
        0x5008 OPERATION_ENABLE operation_enable [OP_EN 0 0]
        0x500C DATA_CUBE_WIDTH data_cube_width [WIDTH 0 12]
        0x5010 DATA_CUBE_HEIGHT data_cube_height [EW_LINE_NOTCH_ADDR 16 28, HEIGHT 0 12]
        0x5014 DATA_CUBE_CHANNEL data_cube_channel [CHANNEL 0 12]
        0x5018 SRC_BASE_ADDR src_base_addr [SRC_BASE_ADDR 0 31]
        0x501C BRDMA_CFG brdma_cfg [BRDMA_DATA_USE 1 4]
        0x5020 BS_BASE_ADDR bs_base_addr [BS_BASE_ADDR 0 31]
        0x5028 NRDMA_CFG nrdma_cfg [NRDMA_DATA_USE 1 4]
        0x502C BN_BASE_ADDR bn_base_addr [BN_BASE_ADDR 0 31]
        0x5034 ERDMA_CFG erdma_cfg [ERDMA_DATA_MODE 30 31, ERDMA_SURF_MODE 29 29,
            ERDMA_NONALIGN 28 28, ERDMA_DATA_SIZE 2 3, OV4K_BYPASS 1 1, ERDMA_DISABLE 0 0]
        0x5038 EW_BASE_ADDR ew_base_addr [EW_BASE_ADDR 0 31]
        0x5040 EW_SURF_STRIDE ew_surf_stride [EW_SURF_STRIDE 4 31]
        0x5044 FEATURE_MODE_CFG feature_mode_cfg [IN_PRECISION 15 17, BURST_LEN 11 14,
            COMB_USE 8 10, PROC_PRECISION 5 7, MRDMA_DISABLE 4 4, MRDMA_FP16TOFP32_EN 3 3,
            CONV_MODE 1 2, FLYING_MODE 0 0]
        0x5048 SRC_DMA_CFG src_dma_cfg [LINE_NOTCH_ADDR 19 31, POOLING_METHOD 13 13,
            UNPOOLING_EN 12 12, KERNEL_STRIDE_HEIGHT 9 11, KERNEL_STRIDE_WIDTH 6 8,
            KERNEL_HEIGHT 3 5, KERNEL_WIDTH 0 2]
        0x504C SURF_NOTCH surf_notch [SURF_NOTCH_ADDR 4 31]
        0x5064 PAD_CFG pad_cfg [PAD_VALUE 16 31, PAD_TOP 4 6, PAD_LEFT 0 2]
        0x5068 WEIGHT weight [E_WEIGHT 24 31, N_WEIGHT 16 23, B_WEIGHT 8 15, M_WEIGHT 0 7]
        0x506C EW_SURF_NOTCH ew_surf_notch [EW_SURF_NOTCH 4 31]
    }

    /// PPU: pooling.
    Ppu ppu {
        0x6000 S_STATUS s_status [STATUS_1 16 17, STATUS_0 0 1]
        0x6004 S_POINTER s_pointer [EXECUTER 16 16, EXECUTER_PP_CLEAR 5 5, POINTER_PP_CLEAR 4 4,
            POINTER_PP_MODE 3 3, EXECUTER_PP_EN 2 2, POINTER_PP_EN 1 1, POINTER 0 0]
        0x6008 OPERATION_ENABLE operation_enable [OP_EN 0 0]
        0x600C DATA_CUBE_IN_WIDTH data_cube_in_width [CUBE_IN_WIDTH 0 12]
        0x6010 DATA_CUBE_IN_HEIGHT data_cube_in_height [CUBE_IN_HEIGHT 0 12]
        0x6014 DATA_CUBE_IN_CHANNEL data_cube_in_channel [CUBE_IN_CHANNEL 0 12]
        0x6018 DATA_CUBE_OUT_WIDTH data_cube_out_width [CUBE_OUT_WIDTH 0 12]
        0x601C DATA_CUBE_OUT_HEIGHT data_cube_out_height [CUBE_OUT_HEIGHT 0 12]
        0x6020 DATA_CUBE_OUT_CHANNEL data_cube_out_channel [CUBE_OUT_CHANNEL 0 12]
        0x6024 OPERATION_MODE_CFG operation_mode_cfg [INDEX_EN 30 30, NOTCH_ADDR 16 28,
            USE_CNT 5 7, FLYING_MODE 4 4, POOLING_METHOD 0 1]
        0x6034 POOLING_KERNEL_CFG pooling_kernel_cfg [KERNEL_STRIDE_HEIGHT 20 23,
            KERNEL_STRIDE_WIDTH 16 19, KERNEL_HEIGHT 8 11, KERNEL_WIDTH 0 3]
        0x6038 RECIP_KERNEL_WIDTH recip_kernel_width [RECIP_KERNEL_WIDTH 0 16]
        0x603C RECIP_KERNEL_HEIGHT recip_kernel_height [RECIP_KERNEL_HEIGHT 0 16]
        0x6040 POOLING_PADDING_CFG pooling_padding_cfg [PAD_BOTTOM 12 14, PAD_RIGHT 8 10,
            PAD_TOP 4 6, PAD_LEFT 0 2]
        0x6044 PADDING_VALUE_1_CFG padding_value_1_cfg [PAD_VALUE_0 0 31]
        0x6048 PADDING_VALUE_2_CFG padding_value_2_cfg [PAD_VALUE_1 0 2]
        0x6070 DST_BASE_ADDR dst_base_addr [DST_BASE_ADDR 4 31]
        0x607C DST_SURF_STRIDE dst_surf_stride [DST_SURF_STRIDE 4 31]
        0x6084 DATA_FORMAT data_format [INDEX_ADD 4 31, DPU_FLYIN 3 3, PROC_PRECISION 0 2]
        0x60DC MISC_CTRL misc_ctrl [SURF_LEN 16 31, MC_SURF_OUT 8 8, NONALIGN 7 7, BURST_LEN 0 3]
    }

    /// PPU_RDMA: the PPU's input reads.
    PpuRdma ppu_rdma {
        0x7000 S_STATUS s_status [STATUS_1 16 17, STATUS_0 0 1]
        0x7004 S_POINTER s_pointer [EXECUTER 16 16, EXECUTER_PP_CLEAR 5 5, POINTER_PP_CLEAR 4 4,
            POINTER_PP_MODE 3 3, EXECUTER_PP_EN 2 2, POINTER_PP_EN 1 1, POINTER 0 0]
        0x7008 OPERATION_ENABLE operation_enable [OP_EN 0 0]
        0x700C CUBE_IN_WIDTH cube_in_width [CUBE_IN_WIDTH 0 12]
        0x7010 CUBE_IN_HEIGHT cube_in_height [CUBE_IN_HEIGHT 0 12]
        0x7014 CUBE_IN_CHANNEL cube_in_channel [CUBE_IN_CHANNEL 0 12]
        0x701C SRC_BASE_ADDR src_base_addr [SRC_BASE_ADDR 0 31]
        0x7024 SRC_LINE_STRIDE src_line_stride [SRC_LINE_STRIDE 4 31]
        0x7028 SRC_SURF_STRIDE src_surf_stride [SRC_SURF_STRIDE 4 31]
        0x7030 DATA_FORMAT data_format [IN_PRECISION 0 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_is_sorted_unique_and_inside_its_range() {
        for b in Block::ALL {
            let regs = b.registers();
            assert!(!regs.is_empty());
            for w in regs.windows(2) {
                assert!(w[0].offset < w[1].offset, "{} / {}", w[0], w[1]);
            }
            for r in regs {
                assert_eq!(r.block, b);
                assert_eq!(Block::of_offset(r.offset), Some(b), "{r}");
                assert_eq!(r.offset % 4, 0, "{r}");
                assert_eq!(register(r.offset), Some(r));
            }
        }
    }

    #[test]
    fn fields_are_ordered_and_do_not_overlap() {
        for b in Block::ALL {
            for r in b.registers() {
                let mut seen = 0u32;
                for f in r.fields {
                    assert!(f.low <= f.high && f.high < 32, "{r}.{}", f.name);
                    assert_eq!(seen & f.mask(), 0, "{r}.{} overlaps", f.name);
                    seen |= f.mask();
                }
                for w in r.fields.windows(2) {
                    assert!(
                        w[0].low > w[1].high,
                        "{r}: {} before {}",
                        w[0].name,
                        w[1].name
                    );
                }
            }
        }
    }

    #[test]
    fn targets_and_offsets_agree() {
        for b in Block::ALL {
            assert_eq!(Block::from_target(b.target()), Some(b));
            assert_eq!(Block::of_offset(b.base()), Some(b));
        }
        assert_eq!(Block::from_target(0x0041), None);
        assert_eq!(Block::from_target(0x0081), None);
        assert_eq!(Block::of_offset(0x2000), None);
        assert_eq!(Block::of_offset(0x8000), None);
        assert_eq!(register(0x1018), None);
        assert_eq!(register(0x2004), None);
        assert_eq!(register(0xF008), None);
    }

    #[test]
    fn fields_read_and_write() {
        let f = cna::conv_con1::ARGB_IN;
        assert_eq!(f.mask(), 0xF000);
        assert_eq!(f.max(), 15);
        assert_eq!(f.get(0x6000_a000), 0xa);
        assert_eq!(f.put(0xb), Some(0xb000));
        assert_eq!(f.put(16), None);
        assert_eq!(pc::version::VERSION.mask(), u32::MAX);
        assert_eq!(pc::version::VERSION.put(u32::MAX), Some(u32::MAX));
        assert_eq!(cna::conv_con1::NONALIGN_DMA.get(0x6000_a000), 1);
        assert_eq!(cna::conv_con1::GROUP_LINE_OFF.get(0x6000_a000), 1);
    }

    #[test]
    fn words_encode_and_decode() {
        let w = encode(&cna::CONV_CON1, 0x6000_a000);
        assert_eq!(w, 0x0201_6000_a000_100c);
        assert_eq!(
            Word::decode(w),
            Word {
                target: 0x0201,
                value: 0x6000_a000,
                offset: 0x100c
            }
        );
        assert_eq!(op_enable_word(0x1d), 0x0081_0000_001d_0008);
        assert_eq!(Word::decode(PREPARE_WORD).target, PREPARE_TARGET);
        assert_eq!(
            format!("{}", dpu::OUT_CVT_SHIFT),
            "DPU_OUT_CVT_SHIFT (0x4088)"
        );
    }
}
