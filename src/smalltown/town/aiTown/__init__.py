"""Functions under AI Town's ``aiTown/`` paths."""
