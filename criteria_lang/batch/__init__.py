"""Screening many records at once: the input cut into units, run in worker processes."""
