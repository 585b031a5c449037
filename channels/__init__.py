"""Adapters to the outside world. They translate; they decide nothing."""
