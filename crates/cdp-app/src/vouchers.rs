//! Vouchers: campaigns of single-use codes, issued to people or to a
//! segment's members (only to those who consented, when the campaign names a
//! channel), and redeemed at the till exactly once.

use crate::store::{ConsentStore, Fact, LoyaltyStore, MemberFilter, OutboxStore, Page, ProfileStore, ProgrammeStore, SegmentStore};
pub use crate::store::{VoucherCampaignRow, VoucherView};
use crate::{App, AppError, AppResult, Refusal};
use cdp_domain::voucher::{self, CampaignSpec, Redemption, VoucherKind, VoucherState};
use rand::RngCore;

/// A voucher campaign as asked for.
#[derive(Debug, Clone)]
pub struct CampaignInput {
    pub name: String,
    pub kind: String,
    pub value: f64,
    pub currency: Option<String>,
    /// RFC 3339, or a date (from its first microsecond).
    pub valid_from: String,
    /// RFC 3339, or a date (to its last microsecond).
    pub valid_to: String,
    pub per_profile_limit: Option<i32>,
    /// Issue only to people whose consent on this channel (and purpose,
    /// default marketing) is granted.
    pub consent: Option<(String, Option<String>)>,
}

/// Who to issue codes to.
#[derive(Debug, Clone)]
pub enum Recipients {
    Profiles(Vec<String>),
    Segment(String),
}

/// What an issue did: a code per person who could take one more.
#[derive(Debug, Clone)]
pub struct Issued {
    /// (code, live profile id)
    pub items: Vec<(String, String)>,
    /// People left out: at the campaign's limit, or without the consent it needs.
    pub skipped: usize,
}

/// Codes a profile list may name in one call.
pub const MAX_PROFILES: usize = 1000;

impl App {
    pub fn create_voucher_campaign(&self, input: CampaignInput) -> AppResult<VoucherCampaignRow> {
        let mut errors = cdp_domain::FieldErrors::default();
        let kind = VoucherKind::parse(&input.kind);
        if kind.is_none() {
            errors.push(cdp_domain::FieldError::new("kind", "invalid", "must be amount, percent or points"));
        }
        let from = when("valid_from", &input.valid_from, false);
        let to = when("valid_to", &input.valid_to, true);
        for e in [&from, &to].into_iter().filter_map(|r| r.as_ref().err()) {
            errors.push(e.clone());
        }
        if let Some((channel, purpose)) = &input.consent {
            if !cdp_domain::consent::is_consent_channel(channel) {
                errors.push(cdp_domain::FieldError::new("consent.channel", "invalid", "is not a consent channel"));
            }
            if purpose.as_deref().is_some_and(|p| !cdp_domain::consent::is_purpose(p)) {
                errors.push(cdp_domain::FieldError::new("consent.purpose", "invalid", "is not a consent purpose"));
            }
        }
        let (Some(kind), Ok(valid_from), Ok(valid_to), true) = (kind, from, to, errors.is_empty()) else {
            return Err(errors.into());
        };
        let spec = CampaignSpec {
            name: input.name,
            kind,
            value: input.value,
            currency: input.currency,
            valid_from,
            valid_to,
            per_profile_limit: input.per_profile_limit.unwrap_or(1),
        }
        .validate(&self.config.currency)?;
        let (consent_channel, consent_purpose) = match input.consent {
            Some((c, p)) => (Some(c), Some(p.unwrap_or_else(|| cdp_domain::consent::DEFAULT_PURPOSE.into()))),
            None => (None, None),
        };
        let row = VoucherCampaignRow {
            id: crate::store::new_id(),
            name: spec.name,
            kind: spec.kind.as_str().into(),
            value: spec.value,
            currency: spec.currency,
            valid_from: spec.valid_from,
            valid_to: spec.valid_to,
            per_profile_limit: spec.per_profile_limit,
            consent_channel,
            consent_purpose,
            created_at: crate::store::now_micros(),
        };
        self.db.write(|c| ProgrammeStore::add_voucher_campaign(c, &row))?;
        Ok(row)
    }

    pub fn voucher_campaign(&self, id: &str) -> AppResult<VoucherCampaignRow> {
        self.db.read_statement(|c| ProgrammeStore::voucher_campaign(c, id)).map_err(AppError::or_missing("voucher campaign"))
    }

    pub fn voucher_campaigns(&self, before: Option<(i64, String)>, limit: i64) -> AppResult<Page<VoucherCampaignRow>> {
        Ok(self.db.read_statement(|c| ProgrammeStore::voucher_campaigns(c, before.clone(), limit))?)
    }

    /// Issues one code to each recipient who holds fewer than the campaign's
    /// limit (and has its consent), with a `voucher.issued` fact each, in one transaction.
    pub fn issue_vouchers(&self, campaign_id: &str, to: Recipients) -> AppResult<Issued> {
        if let Recipients::Profiles(ids) = &to {
            if ids.is_empty() || ids.len() > MAX_PROFILES {
                return Err(AppError::field("profile_ids", "invalid", format!("must name 1 to {MAX_PROFILES} profiles")));
            }
        }
        self.db.write(|c| {
            let campaign = ProgrammeStore::voucher_campaign(c, campaign_id).map_err(AppError::or_missing("voucher campaign"))?;
            let mut people = match &to {
                Recipients::Profiles(ids) => {
                    let mut live = Vec::with_capacity(ids.len());
                    for (i, id) in ids.iter().enumerate() {
                        match ProfileStore::resolve(c, id) {
                            Ok(p) => live.push(p.id),
                            Err(crate::StoreError::NotFound) => {
                                return Err(AppError::field(&format!("profile_ids[{i}]"), "not_found", "is not a profile"))
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    live
                }
                Recipients::Segment(id) => {
                    SegmentStore::get(c, id).map_err(|e| match e {
                        crate::StoreError::NotFound => AppError::field("segment_id", "not_found", "is not a segment"),
                        e => e.into(),
                    })?;
                    let mut all = Vec::new();
                    let mut filter = MemberFilter::default();
                    loop {
                        let (rows, next) = SegmentStore::members(c, id, &filter, crate::campaigns::MEMBERS_PAGE)?;
                        all.extend(rows.into_iter().map(|r| r.profile_id));
                        match next {
                            Some(n) => filter.after = Some(n),
                            None => break,
                        }
                    }
                    all
                }
            };
            // One code per person per call, however often they are named.
            let mut seen = std::collections::HashSet::new();
            people.retain(|p| seen.insert(p.clone()));
            let asked = people.len();
            if let (Some(channel), Some(purpose)) = (&campaign.consent_channel, &campaign.consent_purpose) {
                let mut granted = std::collections::HashSet::new();
                for chunk in people.chunks(500) {
                    granted.extend(ConsentStore::granted_among(c, chunk, channel, purpose)?);
                }
                people.retain(|p| granted.contains(p));
            }
            let held = ProgrammeStore::vouchers_held(c, &campaign.id, &people)?;
            people.retain(|p| held.get(p).copied().unwrap_or(0) < i64::from(campaign.per_profile_limit));
            let now = crate::store::now_micros();
            let rows: Vec<crate::store::VoucherRow> = people
                .iter()
                .map(|p| crate::store::VoucherRow {
                    code: new_code(),
                    campaign_id: campaign.id.clone(),
                    profile_id: p.clone(),
                    issued_at: now,
                    redeemed_at: None,
                    redeemed_order_id: None,
                })
                .collect();
            ProgrammeStore::add_vouchers(c, &rows)?;
            let facts: Vec<Fact> = rows
                .iter()
                .map(|v| Fact {
                    kind: "voucher.issued",
                    profile_id: v.profile_id.clone(),
                    data: serde_json::json!({
                        "code": v.code, "campaign_id": campaign.id, "campaign_name": campaign.name,
                        "kind": campaign.kind, "value": campaign.value, "currency": campaign.currency,
                        "valid_from": crate::rfc3339(campaign.valid_from), "valid_to": crate::rfc3339(campaign.valid_to),
                    })
                    .to_string(),
                    occurred_at: now,
                })
                .collect();
            OutboxStore::enqueue(c, &facts, now)?;
            Ok(Issued { skipped: asked - rows.len(), items: rows.into_iter().map(|r| (r.code, r.profile_id)).collect() })
        })
    }

    /// Redeems a code for an order, once: the same order again answers the
    /// same; a points voucher credits its points to the holder.
    pub fn redeem_voucher(&self, code: &str, order_id: &str, profile_id: Option<&str>) -> AppResult<VoucherView> {
        let order_id = order_id.trim();
        if order_id.is_empty() || order_id.len() > 200 {
            return Err(AppError::field("order_id", "invalid", "must be 1 to 200 characters"));
        }
        let code = voucher::normalise_code(code).ok_or(AppError::NotFound("voucher"))?;
        self.db.write(|c| {
            let v = ProgrammeStore::voucher(c, &code).map_err(AppError::or_missing("voucher"))?;
            let person = match profile_id {
                Some(p) => Some(ProfileStore::resolve(c, p).map_err(|e| match e {
                    crate::StoreError::NotFound => AppError::field("profile_id", "not_found", "is not a profile"),
                    e => e.into(),
                })?),
                None => None,
            };
            let state = VoucherState {
                owner: v.owner.clone(),
                valid_from: v.campaign.valid_from,
                valid_to: v.campaign.valid_to,
                redeemed_order_id: v.voucher.redeemed_order_id.clone(),
            };
            let now = crate::store::now_micros();
            match voucher::decide(&state, order_id, person.as_ref().map(|p| p.id.as_str()), now) {
                Redemption::Again => Ok(v),
                Redemption::AlreadyRedeemed => {
                    Err(AppError::refused(Refusal::AlreadyRedeemed, "this voucher was redeemed for another order"))
                }
                Redemption::Expired => Err(AppError::refused(Refusal::VoucherExpired, "this voucher is outside its dates")),
                Redemption::NotOwner => Err(AppError::refused(Refusal::NotOwner, "this voucher belongs to another person")),
                Redemption::Redeem => {
                    if !ProgrammeStore::redeem_voucher(c, &code, order_id, now)? {
                        // Redeemed since it was read: decide again on what is there now.
                        return Err(AppError::Store(crate::StoreError::Contention("voucher redeemed concurrently".into())));
                    }
                    if v.campaign.kind == VoucherKind::Points.as_str() {
                        let points = v.campaign.value as i64;
                        LoyaltyStore::adjust(c, &v.owner, points, &format!("voucher {code}"), now)?
                            .map_err(|_| AppError::Store(crate::StoreError::Corrupt("crediting points was refused".into())))?;
                    }
                    ProgrammeStore::voucher(c, &code).map_err(AppError::from)
                }
            }
        })
    }

    /// The codes a person holds (merges followed), newest first.
    pub fn profile_vouchers(&self, id: &str, before: Option<(i64, String)>, limit: i64) -> AppResult<Page<VoucherView>> {
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                ProgrammeStore::profile_vouchers(c, &p.id, before.clone(), limit)
            })
            .map_err(AppError::or_missing("profile"))
    }
}

/// An unguessable code: 80 bits from the operating system's generator.
fn new_code() -> String {
    let mut bytes = [0u8; voucher::CODE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    voucher::format_code(&bytes)
}

/// A time as RFC 3339, or a date as its first (or, for an end, last) microsecond.
fn when(field: &str, v: &str, end: bool) -> Result<i64, cdp_domain::FieldError> {
    if let Some(day) = crate::value::parse_day(v.trim()) {
        let start = day * 86_400_000_000;
        return Ok(if end { start + 86_400_000_000 - 1 } else { start });
    }
    cdp_domain::event::parse_time(v)
        .map(|t| t.timestamp_micros())
        .ok_or_else(|| cdp_domain::FieldError::new(field, "invalid", "must be an RFC 3339 time or a date such as 2027-01-31"))
}
