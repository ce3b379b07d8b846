"""The server: its UDP and TCP loops, the responder, the cache of encoded
replies and the metrics endpoint. Layer 3, beside `trio_dns._network`.
"""
