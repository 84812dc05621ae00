// The tables of migrations/{sqlite,postgres}; only types common to both backends.

diesel::table! {
    sources (id) {
        id -> Text,
        name -> Text,
        channel -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        source_id -> Nullable<Text>,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> BigInt,
        disabled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    profiles (id) {
        id -> Text,
        merged_into -> Nullable<Text>,
        user_id -> Nullable<Text>,
        traits -> Text,
        trait_times -> Text,
        channels -> BigInt,
        first_seen_at -> BigInt,
        last_seen_at -> BigInt,
        event_count -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        orders_count -> BigInt,
        revenue_total -> BigInt,
        margin_total -> BigInt,
        first_order_at -> Nullable<BigInt>,
        last_order_at -> Nullable<BigInt>,
        identity_counts -> Text,
    }
}

diesel::table! {
    identities (value, identity_type) {
        value -> Text,
        identity_type -> Text,
        profile_id -> Text,
        created_at -> BigInt,
        origin_profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        profile_id -> Text,
        source_key -> Text,
        source_id -> Nullable<Text>,
        message_id -> Nullable<Text>,
        event_type -> Text,
        name -> Nullable<Text>,
        channel -> Text,
        occurred_at -> BigInt,
        received_at -> BigInt,
        identities -> Text,
        traits -> Text,
        properties -> Text,
        context -> Text,
        blocked_identities -> Nullable<Text>,
        origin_profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    merges (id) {
        id -> Text,
        kind -> Text,
        survivor_id -> Text,
        merged_id -> Text,
        identity_type -> Text,
        identity_value -> Text,
        event_id -> Nullable<Text>,
        created_at -> BigInt,
        reason -> Nullable<Text>,
        undone_at -> Nullable<BigInt>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    kept_apart (a, b) {
        a -> Text,
        b -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    identity_rules (id) {
        id -> Integer,
        body -> Text,
        updated_at -> BigInt,
        updated_by -> Text,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        traits -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    account_members (account_id, profile_id) {
        account_id -> Text,
        profile_id -> Text,
        created_at -> BigInt,
        origin_profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    orders (order_id) {
        order_id -> Text,
        profile_id -> Text,
        event_id -> Text,
        channel -> Text,
        currency -> Text,
        revenue -> BigInt,
        refunded -> BigInt,
        margin -> Nullable<BigInt>,
        day -> BigInt,
        occurred_at -> BigInt,
        products -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        origin_profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    purchase_summaries (profile_id) {
        profile_id -> Text,
        days -> BigInt,
        first_day -> BigInt,
        last_day -> BigInt,
        revenue -> BigInt,
        first_day_revenue -> BigInt,
    }
}

diesel::table! {
    purchase_days (profile_id, day) {
        profile_id -> Text,
        day -> BigInt,
        orders -> BigInt,
        revenue -> BigInt,
    }
}

diesel::table! {
    clv_models (id) {
        id -> Text,
        created_at -> BigInt,
        body -> Text,
    }
}

diesel::table! {
    profile_scores (profile_id) {
        profile_id -> Text,
        model_id -> Text,
        p_alive -> Double,
        expected_purchases -> Double,
        expected_order_value -> Double,
        clv -> Double,
    }
}

diesel::table! {
    profile_rfm (profile_id) {
        profile_id -> Text,
        r -> Integer,
        f -> Integer,
        m -> Integer,
        segment -> Text,
        as_of_day -> BigInt,
    }
}

diesel::table! {
    loyalty_program (id) {
        id -> Integer,
        body -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    loyalty_accounts (profile_id) {
        profile_id -> Text,
        balance -> BigInt,
        tier_code -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    loyalty_ledger (id) {
        id -> Text,
        profile_id -> Text,
        kind -> Text,
        points -> BigInt,
        balance_after -> BigInt,
        order_id -> Nullable<Text>,
        reward_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        reason -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        remaining -> BigInt,
        origin_profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    loyalty_rewards (id) {
        id -> Text,
        name -> Text,
        points_cost -> BigInt,
        stock -> Nullable<BigInt>,
        active_from -> Nullable<BigInt>,
        active_to -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    consents (id) {
        id -> Text,
        profile_id -> Text,
        channel -> Text,
        status -> Text,
        source -> Text,
        recorded_at -> BigInt,
        received_at -> BigInt,
        actor -> Text,
        origin_profile_id -> Nullable<Text>,
        purpose -> Text,
        collected_by -> Nullable<Text>,
        policy_version -> Nullable<Text>,
        evidence -> Nullable<Text>,
    }
}

diesel::table! {
    consent_state (profile_id, channel, purpose) {
        profile_id -> Text,
        channel -> Text,
        purpose -> Text,
        status -> Text,
        recorded_at -> BigInt,
        consent_id -> Text,
    }
}

diesel::table! {
    preferences (id) {
        id -> Text,
        profile_id -> Text,
        body -> Text,
        recorded_at -> BigInt,
        actor -> Text,
        origin_profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    segments (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        rule -> Text,
        version -> Integer,
        size -> BigInt,
        entered -> BigInt,
        exited -> BigInt,
        refreshed_at -> Nullable<BigInt>,
        as_of -> Nullable<BigInt>,
        created_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        refresh_every_minutes -> Nullable<Integer>,
    }
}

diesel::table! {
    destinations (id) {
        id -> Text,
        name -> Text,
        url -> Text,
        secret -> Text,
        events -> Text,
        segment_ids -> Text,
        consent_channel -> Nullable<Text>,
        consent_purpose -> Nullable<Text>,
        enabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        destination_id -> Text,
        event_type -> Text,
        profile_id -> Text,
        data -> Text,
        occurred_at -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_until -> Nullable<BigInt>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    job_runs (id) {
        id -> Text,
        job -> Text,
        slot -> BigInt,
        status -> Text,
        detail -> Nullable<Text>,
        started_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    segment_versions (segment_id, version) {
        segment_id -> Text,
        version -> Integer,
        rule -> Text,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    segment_members (segment_id, profile_id, entered_at) {
        segment_id -> Text,
        profile_id -> Text,
        entered_at -> BigInt,
        exited_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    surveys (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        question -> Text,
        channels -> Text,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    feedback (id) {
        id -> Text,
        profile_id -> Text,
        event_id -> Text,
        survey_id -> Nullable<Text>,
        kind -> Text,
        score -> Nullable<BigInt>,
        body -> Nullable<Text>,
        category -> Nullable<Text>,
        channel -> Text,
        sentiment_label -> Nullable<Text>,
        sentiment_score -> Nullable<Double>,
        order_id -> Nullable<Text>,
        case_id -> Nullable<Text>,
        occurred_at -> BigInt,
        received_at -> BigInt,
        origin_profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    cases (id) {
        id -> Text,
        profile_id -> Text,
        category -> Text,
        priority -> Text,
        channel -> Text,
        subject -> Text,
        description -> Text,
        status -> Text,
        assignee -> Nullable<Text>,
        resolution -> Nullable<Text>,
        due_at -> BigInt,
        created_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        resolved_at -> Nullable<BigInt>,
        resolved_by -> Nullable<Text>,
        origin_profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    case_history (id) {
        id -> Text,
        case_id -> Text,
        status -> Text,
        assignee -> Nullable<Text>,
        note -> Nullable<Text>,
        actor -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    improvements (id) {
        id -> Text,
        title -> Text,
        description -> Text,
        categories -> Text,
        channel -> Text,
        published_at -> BigInt,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    erased_profiles (profile_id) {
        profile_id -> Text,
        erased_at -> BigInt,
        erased_by -> Text,
    }
}

diesel::table! {
    erased_identities (hash) {
        hash -> Text,
        erased_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        actor -> Text,
        action -> Text,
        profile_id -> Nullable<Text>,
        detail -> Text,
        at -> BigInt,
    }
}

diesel::joinable!(api_keys -> sources (source_id));
diesel::joinable!(erased_profiles -> profiles (profile_id));
diesel::joinable!(loyalty_accounts -> profiles (profile_id));
diesel::allow_tables_to_appear_in_same_query!(
    identity_rules,
    kept_apart,
    sources,
    api_keys,
    users,
    profiles,
    identities,
    events,
    merges,
    accounts,
    account_members,
    orders,
    purchase_days,
    purchase_summaries,
    clv_models,
    profile_scores,
    segments,
    segment_members,
    consent_state,
    feedback,
    cases,
    erased_profiles,
    loyalty_accounts
);

mod programmes;
pub use programmes::*;
