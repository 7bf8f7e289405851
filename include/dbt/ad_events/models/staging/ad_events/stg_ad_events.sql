-- Staging: rename and cast analytics.ad_events, nothing else. Grain: one row per event.
with source as (
    select * from {{ source('analytics', 'ad_events') }}
),

renamed as (
    select
        -- ids
        event_id,
        campaign_id,
        creative_id,
        site_id,
        app_id,
        device_model,
        -- text
        site_domain,
        site_category,
        app_domain,
        app_category,
        case when app_id = '{{ var("site_placeholder_app_id") }}' then 'site' else 'app' end as traffic_type,
        case when app_id = '{{ var("site_placeholder_app_id") }}' then site_category else app_category end
            as category,
        price_model_version,
        source as event_source,
        -- numerics
        banner_pos,
        device_type,
        device_conn_type,
        click::integer as clicks,
        conversion::integer as conversions,
        cost,
        revenue,
        -- timestamps (UTC, without time zone so hours never depend on the session's TimeZone)
        event_day,
        event_time at time zone 'UTC' as event_at,
        date_trunc('hour', event_time at time zone 'UTC') as event_hour_at
    from source
)

select * from renamed
