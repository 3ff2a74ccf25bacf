"""Articles from web pages: fetching one page safely (fetch.py) and extracting its article text and
metadata from the HTML (extract.py)."""
