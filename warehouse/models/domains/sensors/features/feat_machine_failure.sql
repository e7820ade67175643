{#- One row per machine and reading day: the day's readings, their trailing windows, the time since
    the last breakdown, and the label, whether the machine breaks down in the 7 days after the
    reading (null while those 7 days are not all observed). -#}

with readings as (
    select * from {{ ref('stg_sensors__readings') }}
),

failures as (
    select
        machine_id,
        read_at as failed_at
    from readings
    where has_failed
),

observed as (
    select max(read_at) as observed_until from readings
),

windowed as (
    select
        machine_id,
        machine_type,
        read_on,
        read_at,
        temperature_c,
        vibration_mm_s,
        pressure_bar,
        runtime_hours,
        avg(temperature_c) over last_7d as temperature_mean_7d,
        avg(vibration_mm_s) over last_7d as vibration_mean_7d,
        max(vibration_mm_s) over last_7d as vibration_max_7d,
        avg(runtime_hours) over last_7d as runtime_hours_mean_7d,
        vibration_mm_s - avg(vibration_mm_s) over last_28d as vibration_vs_28d,
        temperature_c - avg(temperature_c) over last_28d as temperature_vs_28d
    from readings
    window
        last_7d as (
            partition by machine_id order by read_at
            range between interval 6 day preceding and current row
        ),
        last_28d as (
            partition by machine_id order by read_at
            range between interval 27 day preceding and current row
        )
),

with_previous_failure as (
    {{ asof_left_join(
        'windowed', 'failures', 'previous_failure', keys=['machine_id'],
        left_time='read_at', op='>', right_time='failed_at',
        columns=['windowed.*', 'previous_failure.failed_at as previous_failed_at'],
        left_id=['machine_id', 'read_at'],
    ) }}
),

with_next_failure as (
    {{ asof_left_join(
        'with_previous_failure', 'failures', 'next_failure', keys=['machine_id'],
        left_time='read_at', op='<', right_time='failed_at',
        columns=['with_previous_failure.*', 'next_failure.failed_at as next_failed_at'],
        left_id=['machine_id', 'read_at'],
    ) }}
),

labelled as (
    select
        with_next_failure.*,
        case
            when with_next_failure.next_failed_at <= with_next_failure.read_at + interval 7 day then true
            when with_next_failure.read_at + interval 7 day <= observed.observed_until then false
        end as fails_within_7d
    from with_next_failure
    cross join observed
),

final as (
    select
        machine_id,
        read_on,
        read_at,
        machine_type,
        temperature_c,
        vibration_mm_s,
        pressure_bar,
        runtime_hours,
        temperature_mean_7d,
        vibration_mean_7d,
        vibration_max_7d,
        runtime_hours_mean_7d,
        vibration_vs_28d,
        temperature_vs_28d,
        {{ days_between('previous_failed_at', 'read_at') }} as days_since_failure,
        fails_within_7d,
        case
            when fails_within_7d then next_failed_at
            when fails_within_7d is not null then read_at + interval 7 day
        end as label_known_at
    from labelled
)

select * from final
