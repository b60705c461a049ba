"""The check engine: a kata's checks are pytest tests; ``session.grade`` runs
them in-process with the scorecard plugin and returns a ``KataResult``."""
