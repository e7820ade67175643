{#- PII never leaves staging raw: emails become salted hashes, phones keep only the last two digits.
    On DuckDB the salt is the variable pii_salt, set on every connection by warehouse/plugins/pii_salt.py
    (never written into the SQL, so never into compiled files or logs); without it the build fails. -#}
{% macro hash_pii(column) -%}
    {{ return(adapter.dispatch('hash_pii')(column)) }}
{%- endmacro %}

{% macro duckdb__hash_pii(column) -%}
    case
        when getvariable('pii_salt') is null
            then error(
                'the DuckDB variable pii_salt is not set: dbt sets it from WAREHOUSE_PII_SALT (plugin '
                || 'pii_salt in profiles.yml); elsewhere run SET VARIABLE pii_salt = ... first'
            )
        else sha256(getvariable('pii_salt') || lower(trim({{ column }})))
    end
{%- endmacro %}

{#- On Spark the salt is the session configuration spark.pii.salt (profiles.yml, from
    WAREHOUSE_PII_SALT), substituted by Spark when it parses the statement: dbt's compiled SQL holds
    only the reference. Unset, the reference stays as written and the build fails. -#}
{% macro spark__hash_pii(column) -%}
    case
        when '${spark.pii.salt}' = concat('$', '{spark.pii.salt}')
            then raise_error('the Spark configuration spark.pii.salt is not set: dbt sets it from WAREHOUSE_PII_SALT')
        else sha2(concat('${spark.pii.salt}', lower(trim({{ column }}))), 256)
    end
{%- endmacro %}

{% macro mask_phone(column) -%}
    case when {{ column }} is not null then '***' || right({{ regex_replace_all(column, '[^0-9]', '') }}, 2) end
{%- endmacro %}
