"""Judging one item: the prompts, the requests, and reading the judge's answers (scores,
comparisons)."""
