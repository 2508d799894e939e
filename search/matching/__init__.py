"""Matching demands with achievements: candidates from the search engine, re-ranked by pure
scoring functions that also explain themselves in Chinese."""
