//! The programmes' port: voucher campaigns and codes, campaigns with a holdout,
//! referrals; tracking plans and CSV import jobs.

use super::Res;
use crate::repo::{campaigns, referrals, vouchers};
use crate::AnyConnection;
use cdp_app::store::{self as app, Page};

impl app::ProgrammeStore for AnyConnection {
    fn add_voucher_campaign(&mut self, row: &app::VoucherCampaignRow) -> Res<()> {
        Ok(vouchers::add_campaign(self, row)?)
    }
    fn voucher_campaign(&mut self, id: &str) -> Res<app::VoucherCampaignRow> {
        Ok(vouchers::campaign(self, id)?)
    }
    fn voucher_campaigns(&mut self, before: Option<(i64, String)>, limit: i64) -> Res<Page<app::VoucherCampaignRow>> {
        Ok(vouchers::campaigns(self, before, limit)?)
    }
    fn vouchers_held(&mut self, campaign: &str, profiles: &[String]) -> Res<std::collections::HashMap<String, i64>> {
        Ok(vouchers::held(self, campaign, profiles)?)
    }
    fn add_vouchers(&mut self, rows: &[app::VoucherRow]) -> Res<()> {
        Ok(vouchers::add(self, rows)?)
    }
    fn voucher(&mut self, code: &str) -> Res<app::VoucherView> {
        Ok(vouchers::get(self, code)?)
    }
    fn redeem_voucher(&mut self, code: &str, order_id: &str, now: i64) -> Res<bool> {
        Ok(vouchers::redeem(self, code, order_id, now)?)
    }
    fn profile_vouchers(&mut self, profile: &str, before: Option<(i64, String)>, limit: i64) -> Res<Page<app::VoucherView>> {
        Ok(vouchers::of_profile(self, profile, before, limit)?)
    }
    fn add_campaign(&mut self, row: &app::CampaignRow) -> Res<()> {
        Ok(campaigns::add(self, row)?)
    }
    fn add_campaign_members(&mut self, campaign: &str, members: &[(String, &'static str)]) -> Res<()> {
        Ok(campaigns::add_members(self, campaign, members)?)
    }
    fn campaign(&mut self, id: &str) -> Res<app::CampaignRow> {
        Ok(campaigns::get(self, id)?)
    }
    fn campaigns(&mut self, before: Option<(i64, String)>, limit: i64) -> Res<Page<app::CampaignRow>> {
        Ok(campaigns::list(self, before, limit)?)
    }
    fn campaign_members(&mut self, campaign: &str, f: &app::AssignmentFilter, limit: i64) -> Res<Page<(String, String, String), String>> {
        Ok(campaigns::members(self, campaign, f, limit)?)
    }
    fn for_each_goal_event(&mut self, campaign: &str, event: &str, from: i64, to: i64, f: &mut app::GoalVisitor<'_>) -> Res<()> {
        Ok(campaigns::for_each_goal_event(self, campaign, event, from, to, f)?)
    }
    fn referral_code(&mut self, profile: &str) -> Res<Option<String>> {
        Ok(referrals::code_of(self, profile)?)
    }
    fn add_referral_code(&mut self, code: &str, profile: &str, now: i64) -> Res<()> {
        Ok(referrals::add_code(self, code, profile, now)?)
    }
    fn referrals_of(&mut self, profile: &str) -> Res<Vec<app::ReferralView>> {
        Ok(referrals::of_referrer(self, profile)?)
    }
    fn campaigns_of(&mut self, profile: &str) -> Res<Vec<(String, String, String)>> {
        Ok(campaigns::of_profile(self, profile)?)
    }
}

impl app::TrackingPlanStore for AnyConnection {
    fn tracking_plan(&mut self, source: &str) -> Res<Option<String>> {
        Ok(crate::repo::tracking::plan(self, source)?)
    }
    fn save_tracking_plan(&mut self, source: &str, body: &str, now: i64, actor: &str) -> Res<()> {
        Ok(crate::repo::tracking::save_plan(self, source, body, now, actor)?)
    }
    fn add_violations(&mut self, rows: &[app::ViolationRow]) -> Res<()> {
        Ok(crate::repo::tracking::add_violations(self, rows)?)
    }
    fn violations(&mut self, source: &str, before: Option<(i64, String)>, limit: i64) -> Res<Page<app::ViolationRow>> {
        Ok(crate::repo::tracking::violations(self, source, before, limit)?)
    }
}

impl app::ImportStore for AnyConnection {
    fn add_import_chunk(&mut self, id: &str, seq: i32, data: &[u8]) -> Res<()> {
        Ok(crate::repo::imports::add_chunk(self, id, seq, data)?)
    }
    fn drop_import_chunks(&mut self, id: &str) -> Res<()> {
        Ok(crate::repo::imports::drop_chunks(self, id)?)
    }
    fn import_chunk(&mut self, id: &str, seq: i32) -> Res<Option<Vec<u8>>> {
        Ok(crate::repo::imports::chunk(self, id, seq)?)
    }
    fn add_import(&mut self, row: &app::ImportRow) -> Res<()> {
        Ok(crate::repo::imports::add(self, row)?)
    }
    fn import(&mut self, id: &str) -> Res<Option<app::ImportRow>> {
        Ok(crate::repo::imports::get(self, id)?)
    }
    fn imports(&mut self, before: Option<(i64, String)>, limit: i64) -> Res<Page<app::ImportRow>> {
        Ok(crate::repo::imports::list(self, before, limit)?)
    }
    fn import_errors(&mut self, id: &str, after: Option<i64>, limit: i64) -> Res<Vec<app::ImportErrorRow>> {
        Ok(crate::repo::imports::errors(self, id, after, limit)?)
    }
    fn claim_import(&mut self, id: Option<&str>, now: i64, lease_until: i64) -> Res<Option<app::ImportRow>> {
        Ok(crate::repo::imports::claim(self, id, now, lease_until)?)
    }
    fn import_progress(&mut self, id: &str, p: &app::ImportProgress, now: i64, lease_until: i64) -> Res<()> {
        Ok(crate::repo::imports::progress(self, id, p, now, lease_until)?)
    }
    fn finish_import(&mut self, id: &str, status: &str, message: Option<&str>, now: i64) -> Res<()> {
        Ok(crate::repo::imports::finish(self, id, status, message, now)?)
    }
}
