"""See tests/__init__.py for what goes where."""
