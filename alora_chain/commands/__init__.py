"""CLI subcommands; each module defines ``command`` and imports heavy modules lazily inside it."""
