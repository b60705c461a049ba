"""Reporters turn KataResults into what a person or a machine reads: live
coloured text, JSON (KATAS.md's contract), JUnit XML for CI."""
