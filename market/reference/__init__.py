"""The code lists behind the API's codes, with their Chinese labels, as a public read."""
