"""The ledger: the durable journal of identities and units."""
