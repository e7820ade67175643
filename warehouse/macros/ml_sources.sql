{#- on-run-start: create the ML layer's output tables, empty, when they do not exist yet, from the
    column types declared on the `ml` source. Scoring replaces them with real rows. -#}
{% macro create_missing_ml_source_tables() %}
    {%- if execute -%}
        {%- set statements = ["create schema if not exists ml"] -%}
        {%- for node in graph.sources.values() if node.source_name == 'ml' -%}
            {%- set columns = [] -%}
            {%- for column in node.columns.values() -%}
                {%- do columns.append(adapter.quote(column.name) ~ ' ' ~ column.data_type) -%}
            {%- endfor -%}
            {%- do statements.append(
                'create table if not exists ' ~ node.schema ~ '.' ~ node.identifier
                ~ ' (' ~ columns | join(', ') ~ ')'
            ) -%}
        {%- endfor -%}
        {{ return(statements | join(';\n')) }}
    {%- endif -%}
{% endmacro %}
