"""Core services: they take their ports as constructor arguments."""
