//! The tables of customer programmes (vouchers, campaigns, referrals), of tracking plans and of CSV imports.

use super::profiles;

diesel::table! {
    voucher_campaigns (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        value -> Double,
        currency -> Nullable<Text>,
        valid_from -> BigInt,
        valid_to -> BigInt,
        per_profile_limit -> Integer,
        consent_channel -> Nullable<Text>,
        consent_purpose -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    vouchers (code) {
        code -> Text,
        campaign_id -> Text,
        profile_id -> Text,
        issued_at -> BigInt,
        redeemed_at -> Nullable<BigInt>,
        redeemed_order_id -> Nullable<Text>,
    }
}

diesel::joinable!(vouchers -> voucher_campaigns (campaign_id));
diesel::allow_tables_to_appear_in_same_query!(vouchers, voucher_campaigns, profiles);

diesel::table! {
    campaigns (id) {
        id -> Text,
        name -> Text,
        segment_id -> Text,
        holdout_bp -> Integer,
        goal_event -> Text,
        window_days -> Integer,
        starts_at -> BigInt,
        size -> BigInt,
        control_size -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    campaign_members (campaign_id, profile_id) {
        campaign_id -> Text,
        profile_id -> Text,
        grp -> Text,
    }
}

diesel::table! {
    referral_codes (code) {
        code -> Text,
        profile_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    referrals (referee_id) {
        referee_id -> Text,
        referrer_id -> Text,
        code -> Text,
        linked_at -> BigInt,
        outcome -> Text,
        first_order_id -> Nullable<Text>,
        first_order_at -> Nullable<BigInt>,
        points -> Nullable<BigInt>,
        reward_entry_id -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(referral_codes, referrals, profiles);
diesel::allow_tables_to_appear_in_same_query!(campaign_members, campaigns, profiles);

diesel::table! {
    tracking_plans (source_id) {
        source_id -> Text,
        body -> Text,
        updated_at -> BigInt,
        updated_by -> Text,
    }
}

diesel::table! {
    tracking_violations (id) {
        id -> Text,
        source_id -> Text,
        event_name -> Text,
        message_id -> Nullable<Text>,
        kind -> Text,
        path -> Text,
        message -> Text,
        blocked -> Bool,
        event_id -> Nullable<Text>,
        received_at -> BigInt,
    }
}

diesel::table! {
    imports (id) {
        id -> Text,
        kind -> Text,
        status -> Text,
        options -> Text,
        chunks -> Integer,
        bytes -> BigInt,
        rows_read -> BigInt,
        imported -> BigInt,
        duplicates -> BigInt,
        rejected -> BigInt,
        error_count -> BigInt,
        message -> Nullable<Text>,
        created_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        lease_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    import_chunks (import_id, seq) {
        import_id -> Text,
        seq -> Integer,
        data -> Binary,
    }
}

diesel::table! {
    import_errors (import_id, seq) {
        import_id -> Text,
        seq -> BigInt,
        row_number -> BigInt,
        field -> Text,
        code -> Text,
        message -> Text,
    }
}
