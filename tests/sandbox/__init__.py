"""The sandbox AWS emulator's own tests (ARCHITECTURE §8)."""
