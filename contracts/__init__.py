"""Deals, technology contracts, payments, inventor rewards and trade statistics."""
