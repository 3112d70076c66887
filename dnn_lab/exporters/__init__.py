"""Runs and sweeps into other tools' stores: MLflow tracking and TensorBoard event files.
Read runs through ``store`` only; each tool imported by its command alone.
"""
