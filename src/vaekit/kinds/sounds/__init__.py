"""Sounds: clips of audio. Data sets: the built-in `tones` (synthetic notes with known factors, `tones`),
the `spoken-digits` corpus found through $VAEKIT_DATA and a user's `audio` folder (`corpus`); files are read,
resampled, fitted to a length and written back as WAV by `audio`. Every loader returns `audio.Clips`:
waveforms (N, S) float32 in [-1, 1] at --sample-rate, with their labels and known factors.
"""
