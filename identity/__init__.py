"""Brume's identity service: a Keystone v3 API (projects, users, roles, tokens, catalog)."""
