"""Sounds: fixed-size log-mel spectrograms of audio clips."""
