"""The ``mediagen`` command (typer + rich)."""
