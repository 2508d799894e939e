"""Identity (organizations, users, auth) and listings: the layer search and contracts build on."""
