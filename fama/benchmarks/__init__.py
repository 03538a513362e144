"""Benchmark adapters: each wires its environments, tasks, users and scoring to the runner."""
