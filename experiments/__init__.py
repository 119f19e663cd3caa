"""Reproductions of the source works' tables and figures, one module per experiment.

A module that defines ``EXPERIMENT`` (a :class:`jaxdis.registry.Experiment`) is runnable as
``jaxdis run NAME``; see ``jaxdis list``.
"""
