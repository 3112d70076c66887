"""What runs mean together: statistics over seeds, importance, Pareto fronts, parallel
coordinates, diagnostics judged, and a sweep's report. Reads runs through ``store``, draws
through ``render``. No Keras.
"""
