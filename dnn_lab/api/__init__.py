"""The library face of dnn-lab: train, compare and study from Python or a notebook.

``dnn_lab`` exports the public names (``dnn_lab.train``, ``dnn_lab.Run``...) lazily from
these modules; this package imports none of them itself, so ``dnn-lab train`` loads
``api.training`` alone.
"""
