{#- A spend window and its prior span never share a day (a purchase counts in one of them):
    fails for a window whose prior span ends on or after its first day, or is empty. -#}
with

bounds as (
    select * from {{ ref('int_spend_windows_bounded') }}
),

final as (
    select
        bounds.window_name,
        bounds.window_start,
        bounds.window_end,
        bounds.prior_window_start,
        bounds.prior_window_end
    from bounds
    where
        bounds.prior_window_end >= bounds.window_start
        or bounds.prior_window_start > bounds.prior_window_end
        or bounds.window_start > bounds.window_end
)

select * from final
