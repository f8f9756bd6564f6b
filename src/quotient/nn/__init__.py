"""Equivariant building blocks, one module per data kind, and pose heads ξ."""
