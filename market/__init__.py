"""Identity (organizations, users, auth) and listings; also the composition root (app, cli)."""
