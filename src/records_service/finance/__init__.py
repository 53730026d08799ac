"""Money on the case file: the award and its variations, the payment schedule, payments
made, spend reported by the provider, recoveries of unspent funds, and the pure
reconciliation of them that the retention job turns into findings."""
