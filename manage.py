"""Entry point of the command line: `python manage.py --help` (the commands live in commands/)."""

from commands import cli

if __name__ == "__main__":
    cli()
