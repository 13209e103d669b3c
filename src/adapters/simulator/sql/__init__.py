"""Snowflake SQL for the simulator: the account's SQL server (fakesnow over the account's DuckDB), the statement
hooks in front of it, and the Snowpark sessions tasks receive."""
