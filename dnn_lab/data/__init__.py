"""Datasets: the registry, loaders for every file format, splits and scaling. No Keras."""
