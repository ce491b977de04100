"""recross: retrieval augmentation for unsupervised cross-task generalization (ReCross)."""

__version__ = "0.1.0"
