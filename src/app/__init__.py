"""The composition root: settings, the dependency-injector container, and the CLI (``python -m app``)."""
