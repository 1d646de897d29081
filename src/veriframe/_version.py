"""The package version (a ground module, so no part imports the package root)."""

__version__ = "0.1.0"
