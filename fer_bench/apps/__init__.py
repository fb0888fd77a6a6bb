"""User-facing applications on a trained model: train, predict on photos, the live demo."""
