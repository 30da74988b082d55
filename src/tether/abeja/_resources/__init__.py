"""The ABEJA Platform resources (one module per API noun)."""
