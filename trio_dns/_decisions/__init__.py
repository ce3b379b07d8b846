"""The decisions of a resolver, with no I/O: layer 2.

Cache, iteration, the classification of replies, server selection, authority
answers, validation and the answer type. Nothing here imports trio or opens a
socket, and nothing reads a clock: `now` is passed in. Events go in and the
next step comes out, so each decision is tested without a network.
"""
