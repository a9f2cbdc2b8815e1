{#- Conversion rates to the reporting currency (optional file: no rows when it is absent). -#}
with

source as (
    {{ read_raw_file(
        'fx_rates',
        required_columns=['currency', 'rate_date', 'rate_to_reporting'],
        required_file=false,
    ) }}
),

renamed as (
    select
        upper(nullif(trim(cast(source.currency as {{ dbt.type_string() }})), '')) as currency,
        {{ parse_date('source.rate_date') }} as rate_date,
        try_cast(source.rate_to_reporting as double) as rate_to_reporting,
        cast(source.rate_to_reporting as {{ dbt.type_string() }}) as rate_to_reporting_text,
        source.file_row_number
    from source
)

select * from renamed
