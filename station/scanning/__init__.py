"""Scans: one function classifies and resolves every code, whatever scanner it came from."""
from .resolution import Resolution, ScanContext, resolve

__all__ = ["Resolution", "ScanContext", "resolve"]
