"""Keeping score over time: run summaries, the history store, gate policies, diff coverage."""
