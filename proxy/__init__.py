"""The public HTTP API (Swift's /v1/<account>/<container>/<object>) with token auth."""
