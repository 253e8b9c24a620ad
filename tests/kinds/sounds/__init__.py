"""Tests of the sounds kind."""
