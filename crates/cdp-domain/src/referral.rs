//! Referrals: the codes people share, and what a referee's first order
//! gives their referrer.

/// Random bytes of a referral code: 40 bits, 8 characters (`K7QM-2XD9`).
pub const CODE_BYTES: usize = 5;

pub fn format_code(bytes: &[u8; CODE_BYTES]) -> String {
    crate::codes::encode(bytes, 4)
}

/// A referral code as typed, in its stored form; `None` when it cannot be one.
pub fn normalise_code(input: &str) -> Option<String> {
    crate::codes::normalise(input, 8, 4)
}

/// What a referee's first completed order comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reward {
    /// The referrer earns these points.
    Points(i64),
    /// Referrer and referee are one person now (a merge): nothing, ever.
    SelfReferral,
}

/// The referrer's reward, given who each is now (merges followed).
pub fn reward(referrer_live: &str, referee_live: &str, points: i64) -> Reward {
    if referrer_live == referee_live {
        Reward::SelfReferral
    } else {
        Reward::Points(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_rewards() {
        let code = format_code(&[1, 2, 3, 4, 5]);
        assert_eq!(code.len(), 9);
        assert_eq!(normalise_code(&code.to_lowercase().replace('-', "")), Some(code));
        assert_eq!(normalise_code("ABCD-EFG"), None);
        assert_eq!(reward("a", "b", 100), Reward::Points(100));
        assert_eq!(reward("a", "a", 100), Reward::SelfReferral);
    }
}
