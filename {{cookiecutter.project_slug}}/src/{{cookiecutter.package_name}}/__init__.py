"""Pipeline stages, typed settings and the data contract of this project."""

__version__ = "0.1.0"
