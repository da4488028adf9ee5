"""Adapters to other frameworks; each is an optional extra, imported only when asked for.

Example: ``from alora_chain.integrations.langchain import IntrinsicRunnable`` (needs
``pip install 'alora_chain[langchain]'``).
"""
