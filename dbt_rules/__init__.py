"""spendlens's house style as dbt-score rules (docs/dependencies.md, `make lint`)."""
