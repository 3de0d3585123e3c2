//! How the PC (program control block) fetches regcmd streams: the fetch
//! amount encoding, the 4-word tail that ends every task's stream and
//! chains it to the next (`reference/rknpu-driver.md` §1.6, §3.3).

use crate::platform::Platform;

use super::regs::{self, Word};

/// Words of the tail that ends every task's stream: next address, next
/// amount, the prepare word and the op-enable word.
pub const TAIL_WORDS: u32 = 4;

/// How many regcmd words one `PC_DATA_AMOUNT` unit stands for: 2 (128
/// bits) on RK3588-class chips, 1 on RK3566/RK3568.
pub fn amount_scale(platform: Platform) -> u32 {
    match platform {
        Platform::Rk3566 | Platform::Rk3568 => 1,
        _ => 2,
    }
}

/// The `PC_DATA_AMOUNT` that fetches a task of `body` words plus its tail:
/// `ceil((body + 4) / scale) - 1`.
pub fn data_amount(body: u32, platform: Platform) -> u32 {
    let scale = amount_scale(platform);
    (body + TAIL_WORDS).div_ceil(scale) - 1
}

/// The number of words a `PC_DATA_AMOUNT` of `amount` fetches.
pub fn fetched_words(amount: u32, platform: Platform) -> u64 {
    (u64::from(amount) + 1) * u64::from(amount_scale(platform))
}

/// What the tail of a task's stream says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tail {
    /// Address (or, in a file, regcmd offset) of the next task's stream;
    /// `None` at the end of a chain.
    pub next: Option<u32>,
    /// `PC_DATA_AMOUNT` for the next task (0 at the end).
    pub next_amount: u32,
    /// The upper half of the amount word, which the PC does not use for
    /// fetching (observed: the number of cores of the schedule minus one
    /// on tasks of operations split over cores).
    pub amount_high: u16,
    /// The op-enable block mask.
    pub enable_mask: u32,
}

/// Reads the 4-word tail `words` (exactly [`TAIL_WORDS`] words); the error
/// names the offending word (0-based inside the tail).
pub fn parse_tail(words: &[u64]) -> Result<Tail, String> {
    let [w0, w1, w2, w3] = words else {
        return Err(format!("a tail is 4 words, got {}", words.len()));
    };
    let next = if *w0 == 0 {
        None
    } else {
        let w = Word::decode(*w0);
        if w.target != regs::Block::Pc.target() || w.offset != regs::pc::BASE_ADDRESS.offset {
            return Err(format!(
                "tail word 1 is {w0:#018x}, expected a PC_BASE_ADDRESS write or zero"
            ));
        }
        Some(w.value)
    };
    let amount = Word::decode(*w1);
    if amount.target != regs::Block::Pc.target()
        || amount.offset != regs::pc::REGISTER_AMOUNTS.offset
    {
        return Err(format!(
            "tail word 2 is {w1:#018x}, expected a PC_REGISTER_AMOUNTS write"
        ));
    }
    let next_amount = regs::pc::register_amounts::PC_DATA_AMOUNT.get(amount.value);
    if next.is_none() && next_amount != 0 {
        return Err(format!(
            "tail ends the chain but asks for {next_amount} more units"
        ));
    }
    if *w2 != regs::PREPARE_WORD {
        return Err(format!(
            "tail word 3 is {w2:#018x}, expected the prepare word {:#018x}",
            regs::PREPARE_WORD
        ));
    }
    let en = Word::decode(*w3);
    if en.target != regs::OP_ENABLE_TARGET || en.offset != regs::OP_ENABLE_OFFSET {
        return Err(format!(
            "tail word 4 is {w3:#018x}, expected the op-enable word (0x0081..0008)"
        ));
    }
    Ok(Tail {
        next,
        next_amount,
        amount_high: (amount.value >> 16) as u16,
        enable_mask: en.value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_kernel_formula() {
        let p = Platform::Rk3588;
        assert_eq!(data_amount(126, p), 0x40);
        assert_eq!(data_amount(26, p), 0x0e);
        assert_eq!(data_amount(69, p), 0x24);
        assert_eq!(data_amount(122, p), 0x3e);
        assert_eq!(fetched_words(0x24, p), 74);
        assert_eq!(data_amount(69, Platform::Rk3566), 72);
        assert_eq!(fetched_words(72, Platform::Rk3566), 73);
    }

    #[test]
    fn tails_parse_and_bad_ones_are_named() {
        let next = regs::encode(&regs::pc::BASE_ADDRESS, 0x840);
        let amount = regs::encode(&regs::pc::REGISTER_AMOUNTS, 0x0001_000e);
        let en = regs::op_enable_word(0x1d);
        let t = parse_tail(&[next, amount, regs::PREPARE_WORD, en]).unwrap();
        assert_eq!(
            t,
            Tail {
                next: Some(0x840),
                next_amount: 0x0e,
                amount_high: 1,
                enable_mask: 0x1d
            }
        );
        let end = regs::encode(&regs::pc::REGISTER_AMOUNTS, 0);
        let t = parse_tail(&[0, end, regs::PREPARE_WORD, en]).unwrap();
        assert_eq!(t.next, None);
        let e = parse_tail(&[0, amount, regs::PREPARE_WORD, en]).unwrap_err();
        assert!(e.contains("ends the chain"), "{e}");
        let e = parse_tail(&[next, amount, 0, en]).unwrap_err();
        assert!(e.contains("prepare word"), "{e}");
        let e = parse_tail(&[next, amount, regs::PREPARE_WORD, 0]).unwrap_err();
        assert!(e.contains("op-enable"), "{e}");
        let e = parse_tail(&[en, amount, regs::PREPARE_WORD, en]).unwrap_err();
        assert!(e.contains("PC_BASE_ADDRESS"), "{e}");
        assert!(parse_tail(&[0, 0]).is_err());
    }
}
