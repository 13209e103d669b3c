"""The real backend: adapters on snowflake-ml-python, snowflake-snowpark-python and snowflake-core."""
