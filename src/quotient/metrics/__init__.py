"""Evaluation metrics shared by every experiment."""
