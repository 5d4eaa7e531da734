"""Pilothouse: a self-hosted runtime for governed AI agents speaking the Responses API."""

__version__ = "0.1.0"
