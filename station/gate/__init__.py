"""The provisioning gate: pool, commit drain, recovery and the service adapters."""
