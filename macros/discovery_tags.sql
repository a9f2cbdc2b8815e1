{#- The tag groups product discovery matches on (var discovery_match_tag_groups), validated once.
    null = any tag (returns none); otherwise a non-empty list of group names, returned trimmed,
    in lower case and without repeats. A tag `group:value` belongs to the group before its first
    ':' (compared trimmed and case-insensitive); an ungrouped tag belongs to none. The groups
    narrow the matching of discovery_match_tags, so they need discovery_match_tags: true. Any
    mistake stops the build with a message naming the setting. -#}
{% macro discovery_match_tag_groups_settings() -%}
    {%- set setting = var('discovery_match_tag_groups', none) -%}
    {%- if setting is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set usage = "use a list of tag group names, e.g. [brand] or [brand, manufacturer], "
        ~ "or null to match any tag" -%}
    {%- if setting is string or setting is mapping or setting is not iterable -%}
        {{ exceptions.raise_compiler_error(
            "discovery_match_tag_groups is '" ~ setting ~ "', not a list: " ~ usage ~ ".") }}
    {%- endif -%}
    {%- if setting | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "discovery_match_tag_groups is an empty list, which would match no tag: " ~ usage ~ ".") }}
    {%- endif -%}
    {%- set groups = [] -%}
    {%- for group in setting -%}
        {%- set label = 'discovery_match_tag_groups[' ~ loop.index0 ~ ']' -%}
        {%- if group is not string -%}
            {{ exceptions.raise_compiler_error(
                label ~ " is '" ~ group ~ "': each group is a name like brand (" ~ usage ~ ").") }}
        {%- endif -%}
        {%- set name = group | trim | lower -%}
        {%- if not modules.re.match('^[\\w .-]+$', name) -%}
            {{ exceptions.raise_compiler_error(
                label ~ " is '" ~ group ~ "': a group name is the part of a tag before ':' "
                ~ "(brand in brand:Acme); use letters, digits, spaces, _, - and .") }}
        {%- endif -%}
        {%- if name not in groups -%}
            {%- do groups.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if var('discovery_match_tags', false) not in [true, 'true', 'True', 1] -%}
        {{ exceptions.raise_compiler_error(
            "discovery_match_tag_groups is [" ~ groups | join(', ') ~ "] but discovery_match_tags is "
            ~ "not true: the groups only narrow tag matching, so set discovery_match_tags: true as "
            ~ "well (or discovery_match_tag_groups: null).") }}
    {%- endif -%}
    {{ return(groups) }}
{%- endmacro %}
