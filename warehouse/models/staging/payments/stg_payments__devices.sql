with base as (
    select * from {{ ref('base_payments__devices') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        device_id,
        device_type,
        os,
        first_seen_at,
        _loaded_on as loaded_on
    from base
)

select * from final
