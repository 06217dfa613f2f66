"""For people at a terminal: the operator CLI (`python -m ops`), its job views and credential lookup.

Never deployed: deploy/package.py ships handlers/ and lib/ only. ops imports lib; lib and handlers never import ops.
"""
