{{ config(schema='audit', alias='reconciliation') }}

{#- One row per landing table: every landing row is staged, removed as a re-sent duplicate, or
    quarantined. The model's tests require landing_rows = staged + duplicates + quarantined. Files
    the inventory could not read at all are counted beside (their rows cannot be counted). -#}
with
rejected_files as (
    select * from {{ ref('audit__rejected_files') }}
),

{% for landing_table in landing_tables() %}
    {{ landing_table.system }}__{{ landing_table.table }} as (
        select
            '{{ landing_table.system }}' as source_system,
            '{{ landing_table.table }}' as source_table,
            {{ landing_row_count(landing_table) }} as landing_rows,
            (select count(*) from {{ ref(staging_model_name(landing_table)) }}) as staged_rows,
            (
                select count(*) from {{ ref(base_model_name(landing_table)) }}
                where _is_duplicate
            ) as duplicate_rows,
            (
                select count(*) from {{ ref(base_model_name(landing_table)) }}
                where _dq_reason is not null
            ) as quarantined_rows,
            (
                select count(*) from rejected_files
                where
                    rejected_files.source_system = '{{ landing_table.system }}'
                    and rejected_files.source_table = '{{ landing_table.table }}'
            ) as rejected_files
    ),
{% endfor %}

final as (
    {% for landing_table in landing_tables() %}
        select * from {{ landing_table.system }}__{{ landing_table.table }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    source_system || '.' || source_table as landing_table,
    source_system,
    source_table,
    landing_rows,
    staged_rows,
    duplicate_rows,
    quarantined_rows,
    rejected_files,
    landing_rows - staged_rows - duplicate_rows - quarantined_rows as unaccounted_rows
from final
