"""Textual screens of the wizard, one module per screen."""
