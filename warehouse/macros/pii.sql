{#- PII never leaves staging raw: emails become salted hashes, phones keep only the last two digits. -#}
{% macro hash_pii(column) -%}
    sha256('{{ var("pii_salt") }}' || lower(trim({{ column }})))
{%- endmacro %}

{% macro mask_phone(column) -%}
    case when {{ column }} is not null then '***' || right(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 2) end
{%- endmacro %}
