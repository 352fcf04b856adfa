"""The Jinja web pages."""
