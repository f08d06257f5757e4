"""Bias audits and drift reports: reference datasets, the audit engine, the model sandbox, jobs and
their services. The engine (``fairness``, ``suppression``, ``drift``) is pure computation."""
