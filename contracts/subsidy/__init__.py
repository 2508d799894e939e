"""Policy money: budgets per region, year and instrument, and post-transaction subsidies (后补助)."""
