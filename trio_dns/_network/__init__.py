"""The Trio network pieces: layer 3.

Transports, one exchange with one server, the race between servers, the stub
resolver, and the recursive resolver that drives the pure decisions of
`trio_dns._decisions` over them.
"""
