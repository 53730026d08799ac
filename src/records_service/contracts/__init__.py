"""The contract (case file): a commissioned service or grant through its lifecycle."""
