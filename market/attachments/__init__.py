"""Files attached to achievements, demands, deals and contracts, stored once per content (SHA-256)."""
