"""Everyday commands on finished runs (no Parsl): runs, compare, archive."""
