"""spendlens: open, SQL-first customer spend analytics (dbt + DuckDB) and its thin runner."""

__version__ = "0.1.0"
