"""Rendering of reports: terminal text, JSON, self-contained HTML."""
