"""Articles from the web: fetching one page safely (fetch.py)."""
