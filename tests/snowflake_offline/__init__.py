"""Offline harness: the Snowflake adapters run through the libraries' own code, with no account.

- ``connection.py``: ``RecordingConnection`` (a stand-in for the connector connection, under a real
  Snowpark ``Session`` from ``recording_session``): records statements and PUT uploads, answers queries from
  rules (``answer``, ``answer_packages``).
- ``rest_server.py``: ``TaskRestServer``, a loopback server for snowflake.core's task REST API that
  validates bodies with snowflake.core's generated ``Task`` model and records the request sequence.
- ``harness.py``: ``offline_snowflake()`` starts both and yields ``OfflineSnowflake`` (``session``,
  ``connection``, ``server``, ``uploads``, ``task_definitions()``, ``procedure_imports(sql)``).
"""
