"""A Glance-like image registry whose image data lives in the object store."""
