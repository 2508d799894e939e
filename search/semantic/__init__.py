"""Sentence vectors of listings: one more matching feature, on when a model is configured."""
