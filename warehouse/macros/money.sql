{#- Converts an amount in its currency to USD with the reference rate (seed `currencies`). -#}
{% macro to_usd(amount, usd_per_unit) -%}
    cast(round({{ amount }} * {{ usd_per_unit }}, 2) as decimal(14, 2))
{%- endmacro %}
