"""Articles from web pages: extraction of an article's text and metadata from HTML already fetched."""
