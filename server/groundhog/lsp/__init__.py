"""The LSP layer: the only package that imports pygls. Handlers parse params, call the library,
and shape results; everything else lives in the library below."""
