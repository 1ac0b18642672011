"""The files of a style folder (``PersonalStyle.save_pretrained``), named once for the style code and the Hub code."""

FORMAT = "personal-style"
VERSION = 1
WEIGHTS_NAME = "style.safetensors"
CONFIG_NAME = "style.json"
