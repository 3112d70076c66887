"""Training: backend and devices, the model, the fit loop, the run from start to finish.

The only package that imports Keras (or TensorFlow, JAX, torch); modules import it
inside, so importing this package itself costs nothing.
"""
