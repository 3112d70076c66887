"""dnn-lab: train, compare and study dense neural networks from YAML configs."""

__version__ = "0.1.0"
