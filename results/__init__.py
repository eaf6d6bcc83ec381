"""The record schema, the store, Pareto fronts and regression reports."""
