"""Server-rendered web pages (hosted checkout) and their static files."""
