"""Sweeps: trial plans, sweep state, the runner and the searches. No Keras.

Named in the plural so that ``dnn_lab.sweep``, the Python API's function, is never shadowed
by a subpackage of the same name.
"""
