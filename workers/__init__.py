"""RQ jobs and the worker entry point. Thin: load state, call an adapter, record the result."""
