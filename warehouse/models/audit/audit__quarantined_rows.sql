{{ config(schema='quarantine', alias='rejected_rows') }}

{#- One row per landing row that failed validation: where it came from, the row as sent, and why. -#}
with
{% for landing_table in landing_tables() %}
    {{ landing_table.system }}__{{ landing_table.table }} as (
        select
            '{{ landing_table.system }}' as source_system,
            '{{ landing_table.table }}' as source_table,
            _source_file as source_file,
            _source_row_number as source_row_number,
            _loaded_on as loaded_on,
            cast(_source_row as string) as source_row,
            _dq_reason as reason
        from {{ ref(base_model_name(landing_table)) }}
        where _dq_reason is not null
    ),
{% endfor %}

final as (
    {% for landing_table in landing_tables() %}
        select * from {{ landing_table.system }}__{{ landing_table.table }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    source_system || '.' || source_table || ':' || source_file || ':' || source_row_number as rejected_row_id,
    *
from final
