"""Entry point for `python -m {{ cookiecutter.package_name }}`."""

from .cli import run

if __name__ == "__main__":
    run()
