{#- PII never leaves staging raw: emails become salted hashes, phones keep only the last two digits.
    The salt is the DuckDB variable pii_salt, set on every connection by warehouse/plugins/pii_salt.py
    (never written into the SQL, so never into compiled files or logs); without it the build fails. -#}
{% macro hash_pii(column) -%}
    case
        when getvariable('pii_salt') is null
            then error(
                'the DuckDB variable pii_salt is not set: dbt sets it from WAREHOUSE_PII_SALT (plugin '
                || 'pii_salt in profiles.yml); elsewhere run SET VARIABLE pii_salt = ... first'
            )
        else sha256(getvariable('pii_salt') || lower(trim({{ column }})))
    end
{%- endmacro %}

{% macro mask_phone(column) -%}
    case when {{ column }} is not null then '***' || right(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 2) end
{%- endmacro %}
