"""Quality measurement on a labelled folder: metrics, cross-validation folds, engine runs, the CLI."""
