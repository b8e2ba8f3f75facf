"""Model backends: one module per provider; only this package knows a provider's API."""
