"""`judge label`: a local web page for making the human-labelled set `judge calibrate` reads.

Modules: items (the input -> things to label), select (what to label first, from the judge's
verdicts), store (the labels file, written atomically), session (the current item, decisions,
undo, progress, agreement), server (aiohttp routes, security headers), static/ (the page).
"""
