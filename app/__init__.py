"""The composition root: the only package that wires market, search and contracts together."""
