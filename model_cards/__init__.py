"""The model card: its schema and vocabularies, the quality baseline, framework coverage, the frozen
document and its digest, diffs, sanitised rendering and the open-format exports.

Nothing here knows who is acting or owns a transaction: the registry's services (``boas.registry``)
decide, then call these functions. Only ``snapshot`` reads the store, to assemble a version's document.
"""
