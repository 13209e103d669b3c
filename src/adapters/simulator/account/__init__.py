"""The simulated account every port adapter stands on: ``LocalAccount`` (home.py, the one state object), the
account objects (objects.py), the one identifier -> folder encoding (folders.py), the one DuckDB/OSError ->
domain error table (errors.py) and the catalog's clock (clock.py).

Nothing is re-exported here: a job worker imports ``account.folders`` without loading DuckDB.
"""
