"""Training outside the model library: looks, the style encoder's recipe (``python -m training``)."""
