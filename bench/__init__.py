"""Benchmarks: reference implementations the warehouse pipeline is compared against."""
