"""The web dashboard: a browser front end for the public APIs (issue 16)."""
