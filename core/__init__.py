"""Kernel shared by every domain package: settings, database, errors, outbox, HTTP, security.

Imports no domain package (market, search, contracts), so any of them can depend on it.
"""
