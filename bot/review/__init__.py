"""Admin review: transcripts, statistics, knowledge gaps, exports and the Datasette browser.

Everything here reads the transcript database (and, for gaps, the knowledge index);
the presentation for people lives in `tables.py`.
"""
