//! Codes people read and type — vouchers, referral codes: Crockford's
//! base 32 (no I, L, O or U, so that a code read aloud or typed from a
//! receipt is not mistaken), in groups.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Every 5 bits of `bytes` (a multiple of 5 bytes: 8 characters each) as a
/// character, a dash every `group` characters.
pub fn encode(bytes: &[u8], group: usize) -> String {
    let chars = bytes.len() * 8 / 5;
    let mut out = String::with_capacity(chars + chars / group);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            if !out.is_empty() && out.len() % (group + 1) == group {
                out.push('-');
            }
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    out
}

/// A code of `len` characters as typed — any case, spaces or dashes
/// anywhere, O for 0, I or L for 1 — in its stored form (dashes every
/// `group`); `None` when it cannot be one.
pub fn normalise(input: &str, len: usize, group: usize) -> Option<String> {
    let mut plain = String::with_capacity(len);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        plain.push(c);
    }
    if plain.len() != len {
        return None;
    }
    let mut out = String::with_capacity(len + len / group);
    for (i, c) in plain.chars().enumerate() {
        if i > 0 && i % group == 0 {
            out.push('-');
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn five_bits_a_character() {
        assert_eq!(encode(&[0; 5], 4), "0000-0000");
        assert_eq!(encode(&[0xff; 5], 4), "ZZZZ-ZZZZ");
        assert_eq!(encode(&[0x08, 0x42, 0x10, 0x84, 0x21], 8), "11111111");
    }

    proptest! {
        /// Distinct bytes give distinct codes, and every code reads back as itself.
        #[test]
        fn codes_round_trip(a in any::<[u8; 10]>(), b in any::<[u8; 10]>()) {
            let (x, y) = (encode(&a, 4), encode(&b, 4));
            prop_assert_eq!(a == b, x == y);
            prop_assert_eq!(normalise(&x, 16, 4), Some(x.clone()));
        }
    }
}
