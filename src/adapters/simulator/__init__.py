"""The simulator backend: a local Snowflake account on DuckDB, Parquet files and local XGBoost."""
