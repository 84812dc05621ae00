//! Records and repository of customer programmes: voucher campaigns and
//! their codes, campaigns with a holdout and their members.

use super::{Page, StoreResult};

/// A voucher campaign, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VoucherCampaignRow {
    pub id: String,
    pub name: String,
    /// amount | percent | points
    pub kind: String,
    pub value: f64,
    pub currency: Option<String>,
    pub valid_from: i64,
    pub valid_to: i64,
    pub per_profile_limit: i32,
    pub consent_channel: Option<String>,
    pub consent_purpose: Option<String>,
    pub created_at: i64,
}

/// One code, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VoucherRow {
    pub code: String,
    pub campaign_id: String,
    /// The profile it was issued to (see `VoucherView::owner` for who holds it now).
    pub profile_id: String,
    pub issued_at: i64,
    pub redeemed_at: Option<i64>,
    pub redeemed_order_id: Option<String>,
}

/// A code with its campaign and the live profile that holds it (merges followed).
#[derive(Debug, Clone, PartialEq)]
pub struct VoucherView {
    pub voucher: VoucherRow,
    pub owner: String,
    pub campaign: VoucherCampaignRow,
}

/// A campaign measured against a holdout, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub id: String,
    pub name: String,
    pub segment_id: String,
    /// Share held out, in basis points.
    pub holdout_bp: i32,
    pub goal_event: String,
    pub window_days: i32,
    pub starts_at: i64,
    pub size: i64,
    pub control_size: i64,
    pub created_at: i64,
}

/// Who may be listed among a campaign's members.
#[derive(Debug, Clone, Default)]
pub struct AssignmentFilter {
    /// treatment | control
    pub group: Option<String>,
    /// Only those (merges followed) whose consent on this channel and purpose is granted.
    pub consent: Option<(String, String)>,
    /// Profile ids strictly after this one.
    pub after: Option<String>,
}

/// Someone a person referred, as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralView {
    /// The referee's live profile.
    pub referee: String,
    pub code: String,
    pub linked_at: i64,
    /// pending | rewarded | reversed | self_referral
    pub outcome: String,
    pub first_order_at: Option<i64>,
    /// Points the referrer earned.
    pub points: Option<i64>,
    /// The referee's revenue so far (minor units of the default currency).
    pub revenue_total: i64,
    pub orders_count: i64,
}

pub trait ProgrammeStore {
    fn add_voucher_campaign(&mut self, row: &VoucherCampaignRow) -> StoreResult<()>;
    fn voucher_campaign(&mut self, id: &str) -> StoreResult<VoucherCampaignRow>;
    /// Newest first, from the `before` (created_at, id) key on.
    fn voucher_campaigns(&mut self, before: Option<(i64, String)>, limit: i64) -> StoreResult<Page<VoucherCampaignRow>>;
    /// How many codes of the campaign each of these live profiles holds
    /// (codes issued to profiles merged into them count); absent: none.
    fn vouchers_held(&mut self, campaign: &str, profiles: &[String]) -> StoreResult<std::collections::HashMap<String, i64>>;
    fn add_vouchers(&mut self, rows: &[VoucherRow]) -> StoreResult<()>;
    fn voucher(&mut self, code: &str) -> StoreResult<VoucherView>;
    /// Marks the code redeemed for the order unless it already is; answers
    /// whether this call did it.
    fn redeem_voucher(&mut self, code: &str, order_id: &str, now: i64) -> StoreResult<bool>;
    /// The codes a live profile holds, newest first, from the `before` (issued_at, code) key on.
    fn profile_vouchers(&mut self, profile: &str, before: Option<(i64, String)>, limit: i64) -> StoreResult<Page<VoucherView>>;

    fn add_campaign(&mut self, row: &CampaignRow) -> StoreResult<()>;
    /// Members and their group (treatment | control), inserted as given.
    fn add_campaign_members(&mut self, campaign: &str, members: &[(String, &'static str)]) -> StoreResult<()>;
    fn campaign(&mut self, id: &str) -> StoreResult<CampaignRow>;
    /// Newest first, from the `before` (created_at, id) key on.
    fn campaigns(&mut self, before: Option<(i64, String)>, limit: i64) -> StoreResult<Page<CampaignRow>>;
    /// A page of members by profile id: (profile id as snapshotted, live profile id, group).
    fn campaign_members(&mut self, campaign: &str, f: &AssignmentFilter, limit: i64)
        -> StoreResult<Page<(String, String, String), String>>;
    /// Calls `f(member, member's live profile, group, revenue property as
    /// text)` for every event named `event` between `from` and `to`
    /// (inclusive) of each member's live profile.
    fn for_each_goal_event(&mut self, campaign: &str, event: &str, from: i64, to: i64, f: &mut GoalVisitor<'_>) -> StoreResult<()>;

    /// The referral code of a live profile (or of one merged into it), if any.
    fn referral_code(&mut self, profile: &str) -> StoreResult<Option<String>>;
    fn add_referral_code(&mut self, code: &str, profile: &str, now: i64) -> StoreResult<()>;
    /// The people a live profile referred, oldest link first.
    fn referrals_of(&mut self, profile: &str) -> StoreResult<Vec<ReferralView>>;
    /// The campaigns a live profile (or one merged into it) is a member of: (campaign id, name, group).
    fn campaigns_of(&mut self, profile: &str) -> StoreResult<Vec<(String, String, String)>>;
}

/// An event that broke its source's tracking plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationRow {
    pub id: String,
    pub source_id: String,
    pub event_name: String,
    pub message_id: Option<String>,
    /// unplanned | invalid
    pub kind: String,
    pub path: String,
    pub message: String,
    pub blocked: bool,
    /// The event stored despite it (allowed violations).
    pub event_id: Option<String>,
    pub received_at: i64,
}

/// Called with (member, member's live profile, group, revenue property as text).
pub type GoalVisitor<'a> = dyn FnMut(&str, &str, &str, Option<&str>) + 'a;

pub trait TrackingPlanStore {
    /// The plan's document of a source, if it has one.
    fn tracking_plan(&mut self, source: &str) -> StoreResult<Option<String>>;
    fn save_tracking_plan(&mut self, source: &str, body: &str, now: i64, actor: &str) -> StoreResult<()>;
    fn add_violations(&mut self, rows: &[ViolationRow]) -> StoreResult<()>;
    /// Newest first, from the `before` (received_at, id) key on.
    fn violations(&mut self, source: &str, before: Option<(i64, String)>, limit: i64) -> StoreResult<Page<ViolationRow>>;
}
