"""CLI commands for pruning (prune, retrain, inspect); filled in by the pruning engine."""
