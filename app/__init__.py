"""Hearth: the API service for digital community managers."""

__version__ = "0.1.0"
