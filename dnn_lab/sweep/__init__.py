"""Sweeps: trial plans, sweep state, the runner and the searches. No Keras.

This package is also the API's function: ``dnn_lab.sweep(config, grid=...)`` calls
``dnn_lab.api.study.sweep``. A function of the same name as a subpackage would be
replaced by the package the moment anything imports it, so the package is callable.
Its arguments: ``help(dnn_lab.api.study.sweep)``.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        """``dnn_lab.api.study.sweep``: a config over a grid or search, each setting over seeds."""
        from dnn_lab.api.study import sweep

        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
