"""Interactive demos for the lessons: each re-simulates a description on virtual time and draws it.

A demo is a small shell (like ``funcpipe_async/shell/``, it may drive work): its logic is a
plain function the tests call directly, and its widget only wires sliders to that function.
The modules here import matplotlib and ipywidgets, so the package loads them lazily.
"""
