"""Consistent-hash placement: ring builder, ring files, ring lookup and the ring-builder CLI."""
