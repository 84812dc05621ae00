//! Vouchers: campaigns of single-use codes, the codes themselves and the
//! rule that redeems one exactly once.

use crate::{FieldError, FieldErrors};

/// What a voucher gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoucherKind {
    /// A fixed amount off, in the campaign's currency.
    Amount,
    /// A percentage off (0 < value ≤ 100).
    Percent,
    /// Loyalty points.
    Points,
}

impl VoucherKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VoucherKind::Amount => "amount",
            VoucherKind::Percent => "percent",
            VoucherKind::Points => "points",
        }
    }

    pub fn parse(s: &str) -> Option<VoucherKind> {
        match s {
            "amount" => Some(VoucherKind::Amount),
            "percent" => Some(VoucherKind::Percent),
            "points" => Some(VoucherKind::Points),
            _ => None,
        }
    }
}

/// A voucher campaign as asked for, before it is checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSpec {
    pub name: String,
    pub kind: VoucherKind,
    pub value: f64,
    pub currency: Option<String>,
    /// UTC microseconds.
    pub valid_from: i64,
    pub valid_to: i64,
    pub per_profile_limit: i32,
}

impl CampaignSpec {
    /// Checks every field; an amount needs a currency (`default_currency` when none is given).
    pub fn validate(mut self, default_currency: &str) -> Result<CampaignSpec, FieldErrors> {
        let mut errors = FieldErrors::default();
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 200 {
            errors.push(FieldError::new("name", "invalid", "must be 1 to 200 characters"));
        }
        if !self.value.is_finite() || self.value <= 0.0 {
            errors.push(FieldError::new("value", "invalid", "must be greater than 0"));
        } else {
            match self.kind {
                VoucherKind::Percent if self.value > 100.0 => {
                    errors.push(FieldError::new("value", "invalid", "a percentage must be at most 100"))
                }
                VoucherKind::Points if self.value.fract() != 0.0 || self.value > 1e9 => {
                    errors.push(FieldError::new("value", "invalid", "points must be a whole number up to 1e9"))
                }
                VoucherKind::Amount if self.value > 1e15 => errors.push(FieldError::new("value", "invalid", "is too large")),
                _ => {}
            }
        }
        match (self.kind, self.currency.as_deref().map(str::trim)) {
            (VoucherKind::Amount, None) => self.currency = Some(default_currency.to_ascii_uppercase()),
            (_, Some(c)) if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                errors.push(FieldError::new("currency", "invalid", "must be an ISO 4217 code such as VND"))
            }
            (_, Some(c)) => self.currency = Some(c.to_ascii_uppercase()),
            _ => {}
        }
        if self.valid_to <= self.valid_from {
            errors.push(FieldError::new("valid_to", "invalid", "must be after valid_from"));
        }
        if !(1..=1000).contains(&self.per_profile_limit) {
            errors.push(FieldError::new("per_profile_limit", "invalid", "must be 1 to 1000"));
        }
        errors.into_result(self)
    }
}

/// Random bytes a code is made of: 80 bits, unguessable.
pub const CODE_BYTES: usize = 10;

/// A code from random bytes: 16 characters in four groups (`7KQ2-M9XD-…`).
pub fn format_code(bytes: &[u8; CODE_BYTES]) -> String {
    crate::codes::encode(bytes, 4)
}

/// A code as typed (any case, spaces or dashes anywhere, O for 0, I or L for
/// 1) in the form it is stored in; `None` when it cannot be a code.
pub fn normalise_code(input: &str) -> Option<String> {
    crate::codes::normalise(input, 16, 4)
}

/// A voucher's state, as redemption sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherState {
    /// The live profile the voucher belongs to.
    pub owner: String,
    pub valid_from: i64,
    pub valid_to: i64,
    pub redeemed_order_id: Option<String>,
}

/// What a redemption attempt comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Redeem it now for this order.
    Redeem,
    /// It was redeemed for this very order: answer that again.
    Again,
    /// Redeemed for another order.
    AlreadyRedeemed,
    /// Outside its dates.
    Expired,
    /// The person named is not its owner.
    NotOwner,
}

/// The rule: once per voucher, for one order; the same order again answers
/// the first redemption (even after the voucher's dates); the owner only
/// when a person is named; within its dates.
pub fn decide(v: &VoucherState, order_id: &str, person: Option<&str>, now: i64) -> Redemption {
    match v.redeemed_order_id.as_deref() {
        Some(o) if o == order_id => return Redemption::Again,
        Some(_) => return Redemption::AlreadyRedeemed,
        None => {}
    }
    if person.is_some_and(|p| p != v.owner) {
        return Redemption::NotOwner;
    }
    if now < v.valid_from || now > v.valid_to {
        return Redemption::Expired;
    }
    Redemption::Redeem
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state(redeemed: Option<&str>) -> VoucherState {
        VoucherState { owner: "p1".into(), valid_from: 100, valid_to: 200, redeemed_order_id: redeemed.map(Into::into) }
    }

    #[test]
    fn redeems_once_and_answers_the_same_order_again() {
        assert_eq!(decide(&state(None), "o1", None, 150), Redemption::Redeem);
        assert_eq!(decide(&state(None), "o1", Some("p1"), 150), Redemption::Redeem);
        assert_eq!(decide(&state(Some("o1")), "o1", None, 150), Redemption::Again);
        assert_eq!(decide(&state(Some("o1")), "o1", None, 999), Redemption::Again, "a replay after the dates");
        assert_eq!(decide(&state(Some("o1")), "o2", None, 150), Redemption::AlreadyRedeemed);
        assert_eq!(decide(&state(None), "o1", Some("p2"), 150), Redemption::NotOwner);
        assert_eq!(decide(&state(None), "o1", None, 99), Redemption::Expired);
        assert_eq!(decide(&state(None), "o1", None, 201), Redemption::Expired);
        assert_eq!(decide(&state(None), "o1", None, 200), Redemption::Redeem, "the last microsecond counts");
    }

    #[test]
    fn campaigns_are_checked() {
        let spec = CampaignSpec {
            name: " Tết ".into(),
            kind: VoucherKind::Amount,
            value: 50000.0,
            currency: None,
            valid_from: 1,
            valid_to: 2,
            per_profile_limit: 1,
        };
        let ok = spec.clone().validate("vnd").unwrap();
        assert_eq!((ok.name.as_str(), ok.currency.as_deref()), ("Tết", Some("VND")));
        let bad = CampaignSpec { kind: VoucherKind::Percent, value: 120.0, valid_to: 1, per_profile_limit: 0, ..spec }.validate("VND");
        let fields: Vec<_> = bad.unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["value", "valid_to", "per_profile_limit"]);
    }

    proptest! {
        /// Every code reads back as itself, however it is typed.
        #[test]
        fn codes_round_trip(bytes in any::<[u8; CODE_BYTES]>()) {
            let code = format_code(&bytes);
            prop_assert_eq!(code.len(), 19);
            prop_assert_eq!(normalise_code(&code), Some(code.clone()));
            prop_assert_eq!(normalise_code(&code.to_lowercase().replace('-', " ")), Some(code.clone()));
            prop_assert_eq!(normalise_code(&code.replace('0', "o").replace('1', "l")), Some(code));
        }
    }

    #[test]
    fn other_strings_are_not_codes() {
        for s in ["", "ABCD", "ABCD-EFGH-JKMN-PQRS-T", "ABCD-EFGH-JKMN-PQRU", "ÀBCD-EFGH-JKMN-PQRS"] {
            assert_eq!(normalise_code(s), None, "{s}");
        }
    }
}
