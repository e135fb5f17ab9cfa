"""yunpipe: containerized algorithms to a running AWS pipeline, and a wizard to watch it run."""

__version__ = "0.1.0"
