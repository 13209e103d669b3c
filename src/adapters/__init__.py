"""Backends behind the domain's ports: ``simulator`` (local) and ``snowflake`` (real). They never import each other."""
