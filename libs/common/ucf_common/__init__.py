"""Small pieces every UCF process shares: the closed error-code set, request-id
propagation over gRPC metadata, and JSON logging that masks credentials.

It depends on grpcio (and its standard health service) only, so the vault can use it without pulling in any web
or connector code.
"""
