{#- Converts an amount in its currency to USD with the reference rate (seed `currencies`). The
    product is taken in decimal(38) so that any decimal(12,2) amount converts (an absurd amount is
    then quarantined by its rule instead of failing the build with an overflow). -#}
{% macro to_usd(amount, usd_per_unit) -%}
    cast(round(cast({{ amount }} as decimal(38, 2)) * {{ usd_per_unit }}, 2) as decimal(14, 2))
{%- endmacro %}
