"""callhopper: outbound contact-center campaign engine."""

__version__ = "0.1.0"
