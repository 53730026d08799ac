"""``python -m records_service`` runs the CLI."""

from records_service.cli import main

if __name__ == "__main__":
    main()
