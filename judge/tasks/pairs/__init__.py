"""`judge pairs`: prompt groups, judging and ranking them, selecting pairs, rows and the card."""
