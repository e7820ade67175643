{#- The fraud model's trailing-window features, declared once in var('payment_fraud_windows')
    (dbt_project.yml) and read by feat_payment_fraud here and by the online feature store
    (ml/features/declaration.py), which validates the same shape more strictly. -#}

{#- The declaration, checked: an entity, aggregate or column outside the fixed sets, or a window
    that is not "<n> hour|day", stops compilation, so the var can never inject SQL. -#}
{% macro payment_fraud_windows() -%}
    {%- set entities = ['card_fingerprint', 'device_id', 'customer_id'] -%}
    {%- set columns = {
        'count': [none],
        'count_declined': [none],
        'sum': ['amount_usd'],
        'avg': ['amount_usd'],
        'count_distinct': ['card_fingerprint', 'customer_id', 'device_id'],
    } -%}
    {%- set declared = var('payment_fraud_windows') -%}
    {%- for feature in declared -%}
        {%- set where = "var payment_fraud_windows, entry " ~ loop.index ~ " (" ~ feature.get('name') ~ ")" -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]*$', feature.get('name') | string) -%}
            {{ exceptions.raise_compiler_error(where ~ ": name must be a lowercase identifier") }}
        {%- endif -%}
        {%- if feature.get('entity') not in entities -%}
            {{ exceptions.raise_compiler_error(where ~ ": entity must be one of " ~ entities) }}
        {%- endif -%}
        {%- if not modules.re.match('^[1-9][0-9]* (hour|day)$', feature.get('window') | string) -%}
            {{ exceptions.raise_compiler_error(where ~ ": window must be '<n> hour' or '<n> day'") }}
        {%- endif -%}
        {%- if feature.get('aggregate') not in columns -%}
            {{ exceptions.raise_compiler_error(where ~ ": aggregate must be one of " ~ columns.keys() | list) }}
        {%- endif -%}
        {%- set allowed = columns[feature.get('aggregate')] -%}
        {%- if feature.get('column') not in allowed -%}
            {{ exceptions.raise_compiler_error(
                where ~ ": " ~ feature.get('aggregate') ~ " takes no column" if allowed == [none]
                else where ~ ": column of " ~ feature.get('aggregate') ~ " must be one of " ~ allowed
            ) }}
        {%- endif -%}
        {%- if feature.get('include_current', true) not in [true, false] -%}
            {{ exceptions.raise_compiler_error(where ~ ": include_current must be true or false") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(declared) }}
{%- endmacro %}

{#- The declared features as select-list items over a relation of payments (one row per payment):
    each aggregate over its RANGE window of the entity's payments ordered by paid_at, null when the
    payment has no such entity (a null device is not one device). -#}
{% macro payment_fraud_window_columns() -%}
    {%- set rendered -%}
    {%- for feature in payment_fraud_windows() %}
        {%- set window_end = 'current row' if feature.get('include_current', true)
            else range_interval(1, 'microsecond') ~ ' preceding' %}
        {%- set window_amount, window_unit = feature.window.split(' ') %}
        {%- set over -%}
            over (
                partition by {{ window_partition(feature.entity) }} order by paid_at
                range between {{ range_interval(window_amount, window_unit) }} preceding and {{ window_end }}
            )
        {%- endset %}
        case when {{ feature.entity }} is not null then
            {{ window_aggregate(feature.aggregate, feature.get('column'), over) }}
        end as {{ feature.name }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    {%- endset %}
    {{- rendered | trim }}
{%- endmacro %}

{#- The declared features' names, qualified by a relation, as select-list items in declared order. -#}
{% macro payment_fraud_window_names(relation) -%}
    {%- set names = [] -%}
    {%- for feature in payment_fraud_windows() -%}
        {%- do names.append(relation ~ '.' ~ feature.name) -%}
    {%- endfor -%}
    {{- names | join(',\n        ') }}
{%- endmacro %}

{#- The longest declared window as an interval literal: how far back a payment's features reach. -#}
{% macro payment_fraud_lookback() -%}
    {%- set hours = [] -%}
    {%- for feature in payment_fraud_windows() -%}
        {%- set amount, unit = feature.window.split(' ') -%}
        {%- do hours.append(amount | int * (24 if unit == 'day' else 1)) -%}
    {%- endfor -%}
    interval {{ hours | max }} hour
{%- endmacro %}

{#- One declared aggregate over a window clause (`over`), in each engine's SQL with DuckDB's result
    types: Spark has no FILTER or DISTINCT in a window aggregate, sums decimal(14,2) into
    decimal(24,2) and averages a decimal as a decimal. -#}
{% macro window_aggregate(aggregate, column, over) -%}
    {{ return(adapter.dispatch('window_aggregate')(aggregate, column, over)) }}
{%- endmacro %}

{% macro duckdb__window_aggregate(aggregate, column, over) -%}
    {%- set expressions = {
        'count': 'count(*)',
        'count_declined': 'count(*) filter (where not is_authorized)',
        'sum': 'sum({column})',
        'avg': 'avg({column})',
        'count_distinct': 'count(distinct {column})',
    } -%}
    {{ expressions[aggregate].format(column=column) }} {{ over }}
{%- endmacro %}

{% macro spark__window_aggregate(aggregate, column, over) -%}
    {%- set expressions = {
        'count': 'count(*) {over}',
        'count_declined': 'count(case when not is_authorized then 1 end) {over}',
        'sum': 'cast(sum({column}) {over} as decimal(38, 2))',
        'avg': 'avg(cast({column} as double)) {over}',
        'count_distinct': 'cast(size(collect_set({column}) {over}) as bigint)',
    } -%}
    {{ expressions[aggregate].format(column=column, over=over) }}
{%- endmacro %}

{#- The window's partition: the entity. A payment without one (a guest, an in-store payment without
    a device) gets null, and the null rows would form one partition as large as all of them; DuckDB
    computes it anyway at little cost (its window operator uses segment trees), while Spark's range
    frames over it cost rows times window size. On Spark each such payment is its own partition. -#}
{% macro window_partition(entity) -%}
    {{ return(adapter.dispatch('window_partition')(entity)) }}
{%- endmacro %}

{% macro duckdb__window_partition(entity) -%}
    {{ entity }}
{%- endmacro %}

{% macro spark__window_partition(entity) -%}
    {{ entity }}, case when {{ entity }} is null then payment_id end
{%- endmacro %}
