//! Voucher campaigns and codes. A code keeps the profile it was issued to;
//! who holds it now is that profile's survivor (`profiles.merged_into`,
//! always the final one), so merges and their undoing need no move here.

use crate::error::StoreResult;
use crate::in_list::in_list;
use crate::schema::{profiles, voucher_campaigns, vouchers};
use crate::AnyConnection;
use cdp_app::store::{VoucherCampaignRow, VoucherRow, VoucherView};
use diesel::dsl::count_star;
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = voucher_campaigns, treat_none_as_default_value = false)]
pub struct CampaignRow {
    pub id: String,
    pub name: String,
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

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = vouchers, treat_none_as_default_value = false)]
pub struct CodeRow {
    pub code: String,
    pub campaign_id: String,
    pub profile_id: String,
    pub issued_at: i64,
    pub redeemed_at: Option<i64>,
    pub redeemed_order_id: Option<String>,
}

impl From<CampaignRow> for VoucherCampaignRow {
    fn from(r: CampaignRow) -> Self {
        VoucherCampaignRow {
            id: r.id,
            name: r.name,
            kind: r.kind,
            value: r.value,
            currency: r.currency,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            per_profile_limit: r.per_profile_limit,
            consent_channel: r.consent_channel,
            consent_purpose: r.consent_purpose,
            created_at: r.created_at,
        }
    }
}

impl From<&VoucherCampaignRow> for CampaignRow {
    fn from(r: &VoucherCampaignRow) -> Self {
        CampaignRow {
            id: r.id.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            value: r.value,
            currency: r.currency.clone(),
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            per_profile_limit: r.per_profile_limit,
            consent_channel: r.consent_channel.clone(),
            consent_purpose: r.consent_purpose.clone(),
            created_at: r.created_at,
        }
    }
}

impl From<CodeRow> for VoucherRow {
    fn from(r: CodeRow) -> Self {
        VoucherRow {
            code: r.code,
            campaign_id: r.campaign_id,
            profile_id: r.profile_id,
            issued_at: r.issued_at,
            redeemed_at: r.redeemed_at,
            redeemed_order_id: r.redeemed_order_id,
        }
    }
}

impl From<&VoucherRow> for CodeRow {
    fn from(r: &VoucherRow) -> Self {
        CodeRow {
            code: r.code.clone(),
            campaign_id: r.campaign_id.clone(),
            profile_id: r.profile_id.clone(),
            issued_at: r.issued_at,
            redeemed_at: r.redeemed_at,
            redeemed_order_id: r.redeemed_order_id.clone(),
        }
    }
}

pub fn add_campaign(conn: &mut AnyConnection, row: &VoucherCampaignRow) -> StoreResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(voucher_campaigns::table).values(CampaignRow::from(row)).execute(c))?;
    Ok(())
}

pub fn campaign(conn: &mut AnyConnection, id: &str) -> StoreResult<VoucherCampaignRow> {
    let row: CampaignRow = voucher_campaigns::table.find(id).select(CampaignRow::as_select()).first(conn)?;
    Ok(row.into())
}

pub fn campaigns(
    conn: &mut AnyConnection,
    before: Option<(i64, String)>,
    limit: i64,
) -> StoreResult<crate::repo::Page<VoucherCampaignRow>> {
    let mut q = voucher_campaigns::table.select(CampaignRow::as_select()).into_boxed();
    if let Some((at, id)) = before {
        q = q.filter(voucher_campaigns::created_at.lt(at).or(voucher_campaigns::created_at.eq(at).and(voucher_campaigns::id.lt(id))));
    }
    let mut rows: Vec<CampaignRow> =
        q.order((voucher_campaigns::created_at.desc(), voucher_campaigns::id.desc())).limit(limit + 1).load(conn)?;
    let next = crate::repo::page_end(&mut rows, limit, |r| (r.created_at, r.id.clone()));
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

pub fn held(conn: &mut AnyConnection, campaign: &str, live: &[String]) -> StoreResult<HashMap<String, i64>> {
    let mut out = HashMap::new();
    for chunk in live.chunks(500) {
        // Codes issued to the live profiles themselves…
        let direct: Vec<(String, i64)> = vouchers::table
            .filter(vouchers::campaign_id.eq(campaign))
            .filter(in_list(vouchers::profile_id, chunk))
            .group_by(vouchers::profile_id)
            .select((vouchers::profile_id, count_star()))
            .load(conn)?;
        // …and to profiles merged into them.
        let merged: Vec<(Option<String>, i64)> = vouchers::table
            .inner_join(profiles::table.on(profiles::id.eq(vouchers::profile_id)))
            .filter(vouchers::campaign_id.eq(campaign))
            .filter(in_list(profiles::merged_into.assume_not_null(), chunk))
            .group_by(profiles::merged_into)
            .select((profiles::merged_into, count_star()))
            .load(conn)?;
        for (p, n) in direct.into_iter().chain(merged.into_iter().filter_map(|(p, n)| p.map(|p| (p, n)))) {
            *out.entry(p).or_insert(0) += n;
        }
    }
    Ok(out)
}

pub fn add(conn: &mut AnyConnection, rows: &[VoucherRow]) -> StoreResult<()> {
    let rows: Vec<CodeRow> = rows.iter().map(Into::into).collect();
    crate::insert_rows!(&mut *conn, vouchers::table, &rows)?;
    Ok(())
}

type Joined = (CodeRow, CampaignRow, Option<String>);

fn view((code, campaign, merged_into): Joined) -> VoucherView {
    let owner = merged_into.unwrap_or_else(|| code.profile_id.clone());
    VoucherView { voucher: code.into(), owner, campaign: campaign.into() }
}

pub fn get(conn: &mut AnyConnection, code: &str) -> StoreResult<VoucherView> {
    let row: Joined = vouchers::table
        .inner_join(voucher_campaigns::table)
        .inner_join(profiles::table.on(profiles::id.eq(vouchers::profile_id)))
        .filter(vouchers::code.eq(code))
        .select((CodeRow::as_select(), CampaignRow::as_select(), profiles::merged_into))
        .first(conn)?;
    Ok(view(row))
}

pub fn redeem(conn: &mut AnyConnection, code: &str, order_id: &str, now: i64) -> StoreResult<bool> {
    let n = diesel::update(vouchers::table.find(code).filter(vouchers::redeemed_at.is_null()))
        .set((vouchers::redeemed_at.eq(now), vouchers::redeemed_order_id.eq(order_id)))
        .execute(conn)?;
    Ok(n == 1)
}

/// The codes of a live profile and of the profiles merged into it.
pub fn of_profile(
    conn: &mut AnyConnection,
    live: &str,
    before: Option<(i64, String)>,
    limit: i64,
) -> StoreResult<crate::repo::Page<VoucherView>> {
    let mut q = vouchers::table
        .inner_join(voucher_campaigns::table)
        .inner_join(profiles::table.on(profiles::id.eq(vouchers::profile_id)))
        .filter(profiles::id.eq(live).or(profiles::merged_into.eq(live)))
        .select((CodeRow::as_select(), CampaignRow::as_select(), profiles::merged_into))
        .into_boxed();
    if let Some((at, code)) = before {
        q = q.filter(vouchers::issued_at.lt(at).or(vouchers::issued_at.eq(at).and(vouchers::code.lt(code))));
    }
    let mut rows: Vec<Joined> = q.order((vouchers::issued_at.desc(), vouchers::code.desc())).limit(limit + 1).load(conn)?;
    let next = crate::repo::page_end(&mut rows, limit, |r| (r.0.issued_at, r.0.code.clone()));
    Ok((rows.into_iter().map(view).collect(), next))
}
