"""``python -m quotient`` runs the command line (also under ``torchrun -m quotient``)."""

from quotient.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
