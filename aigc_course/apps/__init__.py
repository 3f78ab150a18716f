"""The course's applications, built from the models and metrics below them.

``sentiment`` (chapter 09's shared model), ``assistant`` and ``grounding`` (11), ``monitoring`` (12), ``risks`` and
``watermark`` (14), ``distributed`` (15), ``instruct`` (16) and ``components`` (the shared trained models).
"""
