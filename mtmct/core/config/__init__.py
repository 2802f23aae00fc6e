"""Typed configuration, one model per component, validated when the YAML is loaded (pydantic).

``camera_set`` ties them together; ``base`` holds what they share (number types, paths, one-line errors).
"""
