"""Development tooling: a throwaway Meilisearch, the dev-set evaluation. Not installed with the wheel."""
