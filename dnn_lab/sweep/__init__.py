"""Sweeps: trial plans, sweep state, the runner and the searches. No Keras."""
